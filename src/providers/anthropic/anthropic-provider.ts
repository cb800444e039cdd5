import { BaseAnthropic } from '@anthropic-ai/sdk/client';
import type { Stream } from '@anthropic-ai/sdk/core/streaming';
import type { Message, MessageCreateParams, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages/messages';
import type { Env } from '../../env';
import { openAIChunkStream, readFirstEvent } from '../../openai/chunk-stream';
import { GatewayError } from '../../openai/errors';
import type { DeploymentOptions } from '../../routing/catalog';
import type { Provider } from '../provider';
import { anthropicErrorToGateway, PROVIDER_LABEL } from './anthropic-error';
import { createAnthropicStreamTranslator } from './anthropic-stream';
import { fromAnthropicMessages } from './from-anthropic-response';
import { mergeStreams, type Tagged } from './merge-streams';
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

/** The SDK's own default, as the gateway has no shorter limit of its own yet. */
const REQUEST_TIMEOUT_MS = 10 * 60 * 1000;
const MAX_CACHED_CLIENTS = 8;
const clients = new Map<string, BaseAnthropic>();

function clientFor(env: Env): BaseAnthropic {
  const baseURL = env.ANTHROPIC_BASE_URL || undefined;
  const cacheKey = `${baseURL ?? ''}\n${env.ANTHROPIC_API_KEY}`;
  let client = clients.get(cacheKey);
  if (!client) {
    if (clients.size >= MAX_CACHED_CLIENTS) clients.clear();
    client = new BaseAnthropic({ apiKey: env.ANTHROPIC_API_KEY, baseURL, maxRetries: 0, timeout: REQUEST_TIMEOUT_MS, openTelemetry: false });
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
  isConfigured: (env) => Boolean(env.ANTHROPIC_API_KEY),

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

    const client = clientFor(env);
    const secrets = [env.ANTHROPIC_API_KEY];
    // One signal for the n calls: the client leaving, or one call failing, ends them all.
    const calls = new AbortController();
    const abortCalls = () => calls.abort();
    if (signal.aborted) abortCalls();
    else signal.addEventListener('abort', abortCalls, { once: true });
    const requestOptions = {
      signal: calls.signal,
      ...(apiVersion === SDK_API_VERSION ? {} : { headers: { 'anthropic-version': apiVersion } }),
    };
    const times = <T>(make: () => Promise<T>) => Promise.all(Array.from({ length: translated.n }, make));

    if (!translated.stream) {
      let messages: Message[];
      try {
        const body: MessageCreateParams = { ...translated.params, stream: false };
        messages = await times(() => client.post<Message>(MESSAGES_PATH, { body, stream: false, ...requestOptions }));
      } catch (error) {
        abortCalls();
        throw anthropicErrorToGateway(error, secrets);
      } finally {
        signal.removeEventListener('abort', abortCalls);
      }
      return { stream: false, body: fromAnthropicMessages(messages) };
    }

    let streams: Stream<RawMessageStreamEvent>[];
    try {
      const body: MessageCreateParams = { ...translated.params, stream: true };
      streams = await times(() => client.post<Stream<RawMessageStreamEvent>>(MESSAGES_PATH, { body, stream: true, ...requestOptions }));
    } catch (error) {
      abortCalls();
      signal.removeEventListener('abort', abortCalls);
      throw anthropicErrorToGateway(error, secrets);
    }
    const translator = createAnthropicStreamTranslator({ n: translated.n, includeUsage: translated.includeUsage, model: target.model });
    let events: AsyncIterator<Tagged<RawMessageStreamEvent>>;
    try {
      // message_start: until it arrives the attempt may still fail (and be retried) as a whole.
      ({ events } = await readFirstEvent(mergeStreams(streams.map((s) => s[Symbol.asyncIterator]()))));
    } catch (error) {
      abortCalls();
      signal.removeEventListener('abort', abortCalls);
      throw anthropicErrorToGateway(error, secrets);
    }
    return {
      stream: true,
      started: true,
      body: openAIChunkStream(events, translator, (error) => anthropicErrorToGateway(error, secrets), abortCalls, {
        ms: streamIdleTimeoutMs,
        provider: PROVIDER_LABEL,
      }),
    };
  },
};
