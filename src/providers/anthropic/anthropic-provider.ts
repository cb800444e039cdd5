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
import { MessagesClient } from './messages-client';
import { serializeAnthropicRequest } from './serialize-anthropic-request';
import { LEGACY_API_VERSION, SDK_API_VERSION, toAnthropicRequest, type AnthropicApiVersion } from './to-anthropic-request';

// Anthropic Claude through the official SDK (the only file here with IO, with
// messages-client.ts). The SDK brings the wire details: auth, the anthropic-version
// header, typed errors; the gateway owns retry policy. One client per (base URL, key)
// is kept for the isolate's lifetime, so a request pays for none of its set-up, and
// the SDK's request is built once per client (messages-client.ts).
//
// The client is a BaseAnthropic, the SDK's core without its resources: that keeps the
// rest of the SDK out of the Worker bundle (≈ 0.3 MB instead of 1.1 MB), and skips
// what `messages.create` adds for interactive use, a console warning on every request
// naming a deprecated model (claude-sonnet-4-5 is one), which at gateway rates would
// flood the logs.
//
// Deployment options (a [vars.MODELS] entry):
//   default_max_tokens  max_tokens when the client sets none (else a per-family default)
//   anthropic_version   "2023-06-01" to use the API version that still takes
//                       temperature / top_p (see to-anthropic-request.ts)

const JSON_CONTENT = { 'content-type': 'application/json' };

/** The SDK's own default, as the gateway has no shorter limit of its own yet: the time to the response head. */
const REQUEST_TIMEOUT_MS = 10 * 60 * 1000;
const MAX_CACHED_CLIENTS = 8;
const clients = new Map<string, MessagesClient>();

/** The client of one credential: the deployment's api_key_secret (several keys: credentials/expand-credentials.ts) and base_url. */
function clientFor(env: Env, options: DeploymentOptions, apiKey: string): MessagesClient {
  const baseURL = (typeof options.base_url === 'string' ? options.base_url : env.ANTHROPIC_BASE_URL) || undefined;
  const cacheKey = `${baseURL ?? ''}\n${apiKey}`;
  let client = clients.get(cacheKey);
  if (!client) {
    if (clients.size >= MAX_CACHED_CLIENTS) clients.clear();
    client = new MessagesClient({ apiKey, baseURL, timeout: REQUEST_TIMEOUT_MS, openTelemetry: false });
    clients.set(cacheKey, client);
  }
  return client;
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
    // The body is a string, serialised with its images spliced in (serialize-anthropic-request.ts).
    const headers = apiVersion === SDK_API_VERSION ? JSON_CONTENT : { ...JSON_CONTENT, 'anthropic-version': apiVersion };
    const times = <T>(make: () => Promise<T>) => Promise.all(Array.from({ length: translated.n }, make));

    if (!translated.stream) {
      let messages: Message[];
      try {
        const body = serializeAnthropicRequest({ ...translated.params, stream: false } satisfies MessageCreateParams);
        messages = await times(async () => (await client.postMessages(body, headers, calls)).json<Message>());
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
      // An HTTP error comes back as the SDK's typed error; the 200's body is read here (anthropic-events.ts).
      responses = await times(() => client.postMessages(body, headers, calls));
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
