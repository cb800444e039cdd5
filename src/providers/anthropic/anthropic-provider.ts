import { BaseAnthropic } from '@anthropic-ai/sdk/client';
import type { Message, MessageCreateParams, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages/messages';
import { apiKeyFor, hasApiKey } from '../../credentials/secrets';
import type { Env } from '../../env';
import { openAIChunkStream, readFirstEvent, streamEndReport } from '../../openai/chunk-stream';
import { GatewayError } from '../../openai/errors';
import type { DeploymentOptions } from '../../routing/catalog';
import type { Provider } from '../provider';
import { anthropicErrorToGateway, PROVIDER_LABEL } from './anthropic-error';
import { anthropicEvents } from './anthropic-events';
import { createAnthropicStreamTranslator } from './anthropic-stream';
import { fromAnthropicMessages } from './from-anthropic-response';
import { mergeStreams, type Tagged } from './merge-streams';
import { serializeAnthropicRequest } from './serialize-anthropic-request';
import { LEGACY_API_VERSION, SDK_API_VERSION, toAnthropicRequest, type AnthropicApiVersion } from './to-anthropic-request';

// Anthropic Claude through the official SDK (the only file here with IO). The SDK
// brings the wire details: auth, the anthropic-version header, SSE parsing, typed
// errors. Its own retries are off (the gateway owns retry policy) and one client per
// (base URL, key) is kept for the isolate's lifetime, so a request pays for none of
// its set-up.
//
// The request goes through the client's `post` (what `messages.create` calls) on a
// BaseAnthropic, the SDK's core without its resources: that keeps the rest of the
// SDK out of the Worker bundle (≈ 0.3 MB instead of 1.1 MB), and skips what `create`
// adds for interactive use, a console warning on every request naming a deprecated
// model (claude-sonnet-4-5 is one), which at gateway rates would flood the logs.
//
// Deployment options (a [vars.MODELS] entry):
//   default_max_tokens  max_tokens when the client sets none (else a per-family default)
//   anthropic_version   "2023-06-01" to use the API version that still takes
//                       temperature / top_p (see to-anthropic-request.ts)

const MESSAGES_PATH = '/v1/messages';
const JSON_CONTENT = { 'content-type': 'application/json' };

/** The SDK's own default, as the gateway has no shorter limit of its own yet. */
const REQUEST_TIMEOUT_MS = 10 * 60 * 1000;
const MAX_CACHED_CLIENTS = 8;
const clients = new Map<string, BaseAnthropic>();

/** The client of one credential: the deployment's api_key_secret (several keys: credentials/expand-credentials.ts) and base_url. */
function clientFor(env: Env, options: DeploymentOptions, apiKey: string): BaseAnthropic {
  const baseURL = (typeof options.base_url === 'string' ? options.base_url : env.ANTHROPIC_BASE_URL) || undefined;
  const cacheKey = `${baseURL ?? ''}\n${apiKey}`;
  let client = clients.get(cacheKey);
  if (!client) {
    if (clients.size >= MAX_CACHED_CLIENTS) clients.clear();
    client = new BaseAnthropic({ apiKey, baseURL, maxRetries: 0, timeout: REQUEST_TIMEOUT_MS, openTelemetry: false });
    memoizeRequestHeaders(client);
    clients.set(cacheKey, client);
  }
  return client;
}

/** What the SDK's (private) buildHeaders is called with, as far as it is read here. */
interface BuildHeadersArgs {
  options: { headers?: unknown };
  method: string;
  bodyHeaders: unknown;
  retryCount: number;
  timeout: number;
}

/**
 * The SDK builds every request's headers anew (its auth, user agent, platform and version
 * headers, merged through a generator, two Headers operations each): its largest
 * per-request cost, ≈ a third of its own CPU. For a client with a fixed API key and no
 * retries, they are the same on every call with the same per-call headers, so they are
 * built once (by the SDK, validation included) and each request gets a copy. Per-call
 * headers that are not plain string records, and retries, take the SDK's own path.
 */
export function memoizeRequestHeaders(client: BaseAnthropic): void {
  const sdk = client as unknown as { buildHeaders?: (args: BuildHeadersArgs) => Promise<Headers> };
  const build = sdk.buildHeaders;
  if (typeof build !== 'function') return;
  const built = new Map<string, Headers>();
  sdk.buildHeaders = async (args: BuildHeadersArgs) => {
    const key = args.retryCount === 0 ? headersKey(args) : undefined;
    if (key === undefined) return build.call(client, args);
    let headers = built.get(key);
    if (!headers) {
      headers = await build.call(client, args);
      if (built.size < 8) built.set(key, headers);
    }
    return new Headers(headers);
  };
}

function headersKey({ options, method, bodyHeaders, timeout }: BuildHeadersArgs): string | undefined {
  const plain = (value: unknown) =>
    value === undefined || (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype && Object.values(value).every((v) => typeof v === 'string'));
  if (!plain(options.headers) || !plain(bodyHeaders)) return undefined;
  return JSON.stringify([method, timeout, bodyHeaders ?? null, options.headers ?? null]);
}

function apiVersionFor(options: DeploymentOptions): AnthropicApiVersion {
  const version = options.anthropic_version;
  if (version === undefined || version === SDK_API_VERSION) return SDK_API_VERSION;
  if (version === LEGACY_API_VERSION) return LEGACY_API_VERSION;
  throw new GatewayError(
    500,
    `Gateway configuration error: anthropic_version must be "${SDK_API_VERSION}" or "${LEGACY_API_VERSION}".`,
    'server_error',
    null,
    'gateway_misconfigured',
  );
}

export const anthropicProvider: Provider = {
  isConfigured: (env, options) => hasApiKey(env, options, 'ANTHROPIC_API_KEY'),

  async chatCompletion({ request, target, env, signal, notes, maxImageBytes, streamIdleTimeoutMs }) {
    const apiVersion = apiVersionFor(target.options);
    const translated = toAnthropicRequest(request, {
      model: target.model,
      apiVersion,
      defaultMaxTokens: target.options.default_max_tokens,
      maxImageBytes,
    });
    notes.dropped.push(...translated.notes.dropped);
    notes.adapted.push(...translated.notes.adapted);

    const apiKey = apiKeyFor(env, target.options, 'ANTHROPIC_API_KEY', PROVIDER_LABEL);
    const client = clientFor(env, target.options, apiKey);
    const secrets = [apiKey];
    // One signal for the n calls: the client leaving, or one call failing, ends them all.
    const calls = new AbortController();
    const abortCalls = () => calls.abort();
    if (signal.aborted) abortCalls();
    else signal.addEventListener('abort', abortCalls, { once: true });
    const requestOptions = {
      signal: calls.signal,
      // A string body with its content-type goes out as it is (serialize-anthropic-request.ts: images spliced, not re-stringified).
      headers: apiVersion === SDK_API_VERSION ? JSON_CONTENT : { ...JSON_CONTENT, 'anthropic-version': apiVersion },
    };
    const times = <T>(make: () => Promise<T>) => Promise.all(Array.from({ length: translated.n }, make));

    if (!translated.stream) {
      let messages: Message[];
      try {
        const body = serializeAnthropicRequest({ ...translated.params, stream: false } satisfies MessageCreateParams);
        messages = await times(() => client.post<Message>(MESSAGES_PATH, { body, stream: false, ...requestOptions }));
      } catch (error) {
        abortCalls();
        throw anthropicErrorToGateway(error, secrets);
      } finally {
        signal.removeEventListener('abort', abortCalls);
      }
      return { stream: false, body: fromAnthropicMessages(messages) };
    }

    let responses: Response[];
    try {
      const body = serializeAnthropicRequest({ ...translated.params, stream: true } satisfies MessageCreateParams);
      // The SDK sends the request and turns an HTTP error into its typed errors; the
      // 200's body is read here (anthropic-events.ts), not through the SDK's Stream.
      responses = await times(() => client.post(MESSAGES_PATH, { body, stream: true, ...requestOptions }).asResponse());
    } catch (error) {
      abortCalls();
      signal.removeEventListener('abort', abortCalls);
      throw anthropicErrorToGateway(error, secrets);
    }
    const translator = createAnthropicStreamTranslator({ n: translated.n, includeUsage: translated.includeUsage, model: target.model });
    let events: AsyncIterator<Tagged<RawMessageStreamEvent>>;
    try {
      // message_start: until it arrives the attempt may still fail (and be retried) as a whole.
      // One call (n = 1, the usual case) is read without a merge in between.
      const merged =
        responses.length === 1
          ? anthropicEvents(responses[0].body ?? emptyBody(), responses[0].headers, (event): Tagged<RawMessageStreamEvent> => ({ choice: 0, event }))
          : mergeStreams(responses.map((r) => anthropicEvents(r.body ?? emptyBody(), r.headers)));
      ({ events } = await readFirstEvent(merged));
    } catch (error) {
      abortCalls();
      signal.removeEventListener('abort', abortCalls);
      throw anthropicErrorToGateway(error, secrets);
    }
    const { ended, onEnd } = streamEndReport();
    return {
      stream: true,
      started: true,
      ended,
      body: openAIChunkStream(events, translator, (error) => anthropicErrorToGateway(error, secrets), abortCalls, {
        idle: { ms: streamIdleTimeoutMs, provider: PROVIDER_LABEL },
        onEnd,
        clientSignal: signal,
      }),
    };
  },
};

/** A 200 without a body reads as a stream that ended at once: reported as truncated. */
const emptyBody = () => new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
