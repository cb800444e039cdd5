import type { Env } from '../env';
import type { StreamEnd } from '../openai/chunk-stream';
import type { ChatCompletion, ChatCompletionRequest } from '../openai/types';
import type { DeploymentOptions, Target } from '../routing/catalog';

/** What a translation changed about the request, reported to the client in headers. */
export interface RequestNotes {
  /** Parameters the upstream cannot honour, dropped (x-switchboard-dropped-params). */
  dropped: string[];
  /** Parameters changed to fit the upstream, as `param=value` (x-switchboard-adapted). */
  adapted: string[];
}

export interface ProviderCall {
  request: ChatCompletionRequest;
  target: Target;
  env: Env;
  /** Aborted when the client goes away: providers pass it to their upstream fetch. */
  signal: AbortSignal;
  notes: RequestNotes;
  maxImageBytes: number;
  /** A stream silent this long after it began is abandoned with an `upstream_stalled` error chunk (ms; 0: never). */
  streamIdleTimeoutMs: number;
  /**
   * Whether pass-through streams are watched for silence too. Watching one means reading
   * a tee of it in JavaScript (≈ 60 µs per event on a 2-core machine, where the runtime's
   * pipe costs nothing), so it is on only where stream_idle_timeout_ms is configured.
   */
  watchPassThroughStreams: boolean;
}

/**
 * The result of a successful call, already in OpenAI's format. Failures before the
 * response begins are thrown as GatewayError; failures after a stream began end the
 * stream with an error chunk (see openai/chunk-stream.ts).
 */
export type ProviderResult =
  | { stream: false; body: ChatCompletion | string }
  | {
      stream: true;
      body: ReadableStream<Uint8Array>;
      /**
       * True when the provider already read the upstream's first event and it was not an
       * error (Gemini does, to answer a blocked prompt with an HTTP error): the router then
       * hands the stream on without peeking at its first chunk (routing/first-chunk.ts).
       */
      started?: boolean;
      /** A translated stream: how it ended and its usage (usage accounting reads this instead of tapping the body). */
      ended?: Promise<StreamEnd>;
    };

/** An upstream. Adding one: a folder under providers/ exporting one of these, registered in providers/index.ts. */
export interface Provider {
  chatCompletion(call: ProviderCall): Promise<ProviderResult>;
  /**
   * Whether the environment has what this provider needs (credentials), for routing and
   * GET /v1/models; with a deployment's options, what that deployment needs (its own
   * api_key_secret, endpoint, auth).
   */
  isConfigured(env: Env, options?: DeploymentOptions): boolean;
}
