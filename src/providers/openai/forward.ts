import { errorChunk, newCompletionMeta } from '../../openai/chunks';
import { GatewayError, streamStalled, withinMs } from '../../openai/errors';
import { failedStart } from '../../routing/first-chunk';
import { SSE_DONE, sseData } from '../../openai/sse';
import type { ProviderResult } from '../provider';
import { redactSecrets, retryAfterSeconds, upstreamHttpError, upstreamNetworkError } from '../upstream-error';

// Forwarding to an upstream that already speaks OpenAI's format (OpenAI, Azure, and
// later vLLM / LMDeploy): the body goes out as the client sent it (model swapped),
// and the answer comes back byte for byte. A stream cut mid-way ends with an error
// chunk and `[DONE]` rather than just stopping.

const encoder = new TextEncoder();

export interface ForwardOptions {
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
  signal: AbortSignal;
  /** Secrets to scrub from upstream error messages. */
  secrets: (string | undefined)[];
  /** Optional per-event rewrite for streams: the new `data`, or null to drop the event (Azure). */
  rewriteEvent?: (data: string) => string | null;
  /** A stream silent this long after it began is abandoned with an error chunk (ms; 0: never). */
  idleTimeoutMs?: number;
}

export async function forwardChatCompletion(options: ForwardOptions): Promise<ProviderResult> {
  let response: Response;
  try {
    response = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: options.body,
      signal: options.signal,
    });
  } catch (error) {
    throw upstreamNetworkError(options.provider, error);
  }
  if (!response.ok) throw await openAIStyleError(options.provider, response, options.secrets);
  if (!options.stream) return { stream: false, body: await response.text() };
  if (!response.body) throw upstreamNetworkError(options.provider, new Error('empty stream'));
  // The first chunk is read here, so the router need not peek at the stream (a tee and a read in JavaScript).
  if (options.rewriteEvent) {
    return { stream: true, started: true, body: await guardStartedSseStream(response.body, options.provider, options.rewriteEvent, options.idleTimeoutMs) };
  }
  return { stream: true, started: true, body: await pipeStartedSseStream(response.body, options.provider, options.idleTimeoutMs) };
}

// workerd's native identity stream: a pipe from the upstream body into it runs inside
// the runtime, with no JavaScript per chunk (≈ 40 µs saved per event on a 2-core
// machine). Elsewhere (Node, in unit tests) the standard TransformStream does the same.
declare const IdentityTransformStream: typeof TransformStream | undefined;
const NativeIdentityStream: typeof TransformStream =
  typeof IdentityTransformStream === 'function' ? IdentityTransformStream : TransformStream;

/**
 * The fast path for an unmodified stream: the runtime pipes the bytes through, and
 * JavaScript runs only at the end. If the upstream fails mid-stream, a blank line
 * (ending any event it cut in half, which the client then cannot parse either way),
 * an error chunk and `[DONE]` follow. A client that goes away cancels the pipe, and
 * with it the upstream request.
 *
 * With `idleMs`, a tee's second branch is read in JavaScript only to notice an upstream
 * that goes quiet (the client's bytes still flow through the runtime's pipe): after
 * `idleMs` without a byte the pipe is stopped and the stream ends with an
 * `upstream_stalled` error chunk.
 */
export function pipeSseStream(upstream: ReadableStream<Uint8Array>, provider: string, idleMs = 0, first?: Uint8Array): ReadableStream<Uint8Array> {
  const { readable, writable } = new NativeIdentityStream<Uint8Array, Uint8Array>();
  if (first) {
    // Queued ahead of the pipe; not awaited, as nothing reads the stream before it is returned.
    const writer = writable.getWriter();
    writer.write(first).catch(() => {});
    writer.releaseLock();
  }
  const stopPipe = new AbortController();
  let source = upstream;
  let stopWatching = () => {};
  let stalled: GatewayError | undefined;
  if (idleMs > 0) {
    const [toClient, toWatch] = upstream.tee();
    source = toClient;
    stopWatching = watchForSilence(toWatch, idleMs, () => stopPipe.abort((stalled = streamStalled(provider, idleMs))));
  }
  const finish = async (tail: string | null) => {
    const writer = writable.getWriter();
    try {
      if (tail) await writer.write(encoder.encode(tail));
      await writer.close();
    } catch {
      // The client is gone: nothing to tell it.
    }
  };
  source.pipeTo(writable, { preventClose: true, preventAbort: true, signal: stopPipe.signal }).then(
    () => {
      stopWatching();
      return finish(null);
    },
    (error) => {
      stopWatching();
      const reported = stalled ?? upstreamNetworkError(provider, error);
      return finish(`\n\n${sseData(errorChunk(newCompletionMeta(''), reported))}${SSE_DONE}`);
    },
  );
  return readable;
}

/**
 * pipeSseStream once the upstream's first chunk has come, so the stream can be marked
 * `started`: an upstream that fails before it, or whose stream is only an error chunk,
 * is the attempt's failure (thrown), which the router may retry.
 */
export async function pipeStartedSseStream(upstream: ReadableStream<Uint8Array>, provider: string, idleMs = 0): Promise<ReadableStream<Uint8Array>> {
  const reader = upstream.getReader();
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await reader.read();
  } catch (error) {
    throw upstreamNetworkError(provider, error);
  }
  const failed = first.done ? null : failedStart(first.value);
  if (failed) {
    reader.cancel().catch(() => {});
    throw failed;
  }
  reader.releaseLock();
  return pipeSseStream(upstream, provider, idleMs, first.done ? undefined : first.value);
}

const SILENCE = Symbol('silence');

/** Reads `stream` to its end, calling `onSilence` if no chunk comes for `idleMs`. Returns a function that stops it. */
function watchForSilence(stream: ReadableStream<Uint8Array>, idleMs: number, onSilence: () => void): () => void {
  const reader = stream.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  (async () => {
    try {
      for (;;) {
        const { done } = await withinMs(reader.read(), idleMs, () => Object.assign(new Error('silence'), { [SILENCE]: true }));
        if (done) return;
      }
    } catch (error) {
      // An upstream failure is the pipe's to report; only silence is this watcher's.
      if ((error as { [SILENCE]?: boolean })[SILENCE]) onSilence();
      stop();
    }
  })();
  return stop;
}

/** Reads an OpenAI-format error body (`{"error":{"message",…}}`) into a GatewayError. */
export async function openAIStyleError(provider: string, response: Response, secrets: (string | undefined)[]): Promise<GatewayError> {
  const text = await response.text().catch(() => '');
  let message: string | undefined;
  let param: string | null = null;
  let code: string | null = null;
  try {
    const body = JSON.parse(text);
    const error = body?.error ?? body;
    if (typeof error?.message === 'string') message = error.message;
    if (typeof error?.param === 'string') param = error.param;
    if (typeof error?.code === 'string') code = error.code;
  } catch {
    // Not JSON (an HTML error page from a proxy): keep a short plain-text excerpt.
    message = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) || undefined;
  }
  const mapped = upstreamHttpError(
    provider,
    response.status,
    message && redactSecrets(message, secrets),
    retryAfterSeconds(response.headers),
  );
  // A caller's mistake keeps the upstream's param and code, so the client sees what OpenAI would say.
  if (mapped.status >= 400 && mapped.status < 500 && mapped.status !== 429 && (param || code)) {
    return new GatewayError(mapped.status, mapped.message, mapped.type, param, code ?? mapped.code, mapped.headers);
  }
  return mapped;
}

/**
 * Forwards complete SSE events as they arrive. The bytes after the last event
 * boundary are held until the rest of that event arrives (a client cannot use half
 * an event anyway), so a failure can always be reported as a clean final event.
 */
export function guardSseStream(
  upstream: ReadableStream<Uint8Array>,
  provider: string,
  rewriteEvent?: (data: string) => string | null,
  idleMs = 0,
): ReadableStream<Uint8Array> {
  return guardedStream(sseEventPump(upstream, provider, rewriteEvent, idleMs), null);
}

/**
 * guardSseStream once its first output has come, so the stream can be marked `started`:
 * an upstream that fails before it (network error, silence, a stream cut short), or whose
 * first output is only an error chunk, is the attempt's failure (thrown), which the router
 * may retry. The rest is read on demand as guardSseStream reads it.
 */
export async function guardStartedSseStream(
  upstream: ReadableStream<Uint8Array>,
  provider: string,
  rewriteEvent?: (data: string) => string | null,
  idleMs = 0,
): Promise<ReadableStream<Uint8Array>> {
  const pump = sseEventPump(upstream, provider, rewriteEvent, idleMs);
  const first = await pump.next();
  const failed = first && failedStart(first);
  if (failed) {
    pump.cancel().catch(() => {});
    throw failed;
  }
  return guardedStream(pump, first);
}

interface SseEventPump {
  /** The next complete events (rewritten, never empty); null at a clean end; throws a GatewayError when the upstream fails. */
  next(): Promise<Uint8Array | null>;
  cancel(reason?: unknown): Promise<void>;
}

function guardedStream(pump: SseEventPump, first: Uint8Array | null): ReadableStream<Uint8Array> {
  let ended = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (first) controller.enqueue(first);
      },
      async pull(controller) {
        if (ended) return controller.close();
        let out: Uint8Array | null;
        try {
          out = await pump.next();
        } catch (error) {
          ended = true;
          const reported = error instanceof GatewayError ? error : upstreamNetworkError('the upstream', error);
          controller.enqueue(encoder.encode(sseData(errorChunk(newCompletionMeta(''), reported)) + SSE_DONE));
          return controller.close();
        }
        if (out) controller.enqueue(out);
        else controller.close();
      },
      cancel(reason) {
        return pump.cancel(reason);
      },
    },
    // Reads a few events ahead while the client is written to; bounded, and never delays one.
    { highWaterMark: 16 },
  );
}

function sseEventPump(
  upstream: ReadableStream<Uint8Array>,
  provider: string,
  rewriteEvent: ((data: string) => string | null) | undefined,
  idleMs: number,
): SseEventPump {
  const reader = upstream.getReader();
  let pending: Uint8Array = new Uint8Array(0);
  let sawDone = false;
  const decoder = rewriteEvent ? new TextDecoder() : undefined;

  return {
    async next() {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await withinMs(reader.read(), idleMs, () => streamStalled(provider, idleMs));
        } catch (error) {
          if (error instanceof GatewayError) reader.cancel().catch(() => {});
          throw error instanceof GatewayError ? error : upstreamNetworkError(provider, error);
        }
        if (result.done) {
          if (pending.length > 0 && !sawDone) {
            // The last event had no terminating blank line. Some servers end that way; a
            // cut connection does too, mid-event. Only a whole event is forwarded: half a
            // JSON chunk would make the client fail on bad JSON before it sees the error.
            const tail = wholeEvent(pending);
            pending = new Uint8Array(0);
            if (tail) {
              sawDone = endsWithDone(tail);
              const out = rewriteEvents(tail, rewriteEvent, decoder);
              // The end is reported by the next call.
              if (out.length > 0) return out;
            }
          }
          if (!sawDone) throw new GatewayError(502, `${provider} ended the stream before it finished.`, 'upstream_error', null, 'upstream_stream_truncated');
          return null;
        }
        const bytes = pending.length ? concat(pending, result.value) : result.value;
        const end = lastEventBoundary(bytes);
        if (end < 0) {
          pending = bytes;
          continue;
        }
        const complete = bytes.subarray(0, end);
        pending = bytes.slice(end);
        if (endsWithDone(complete)) sawDone = true;
        const out = rewriteEvents(complete, rewriteEvent, decoder);
        if (out.length > 0) return out;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/** Index just past the last blank line (`\n\n` or `\n\r\n`), or -1. */
function lastEventBoundary(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i > 0; i--) {
    if (bytes[i] !== 0x0a) continue;
    if (bytes[i - 1] === 0x0a) return i + 1;
    if (bytes[i - 1] === 0x0d && i >= 2 && bytes[i - 2] === 0x0a) return i + 1;
  }
  return -1;
}

/** The unterminated last event, terminated, if its data is `[DONE]` or complete JSON; else null. */
function wholeEvent(bytes: Uint8Array): Uint8Array | null {
  const text = new TextDecoder().decode(bytes).trimEnd();
  const data = text
    .split(/\r\n|\r|\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.charCodeAt(5) === 32 ? 6 : 5))
    .join('\n');
  if (data !== '[DONE]') {
    try {
      JSON.parse(data);
    } catch {
      return null;
    }
  }
  return encoder.encode(`${text}\n\n`);
}

const DONE_BYTES = encoder.encode('[DONE]');

function endsWithDone(bytes: Uint8Array): boolean {
  // The sentinel is the last event: look for it in the final few bytes only.
  const from = Math.max(0, bytes.length - 16);
  outer: for (let i = from; i <= bytes.length - DONE_BYTES.length; i++) {
    for (let k = 0; k < DONE_BYTES.length; k++) if (bytes[i + k] !== DONE_BYTES[k]) continue outer;
    return true;
  }
  return false;
}

function rewriteEvents(bytes: Uint8Array, rewrite: ((data: string) => string | null) | undefined, decoder: TextDecoder | undefined): Uint8Array {
  if (!rewrite || !decoder) return bytes;
  let out = '';
  for (const event of decoder.decode(bytes).split(/\r?\n\r?\n/)) {
    if (!event.startsWith('data:')) continue;
    const data = rewrite(event.slice(event.charCodeAt(5) === 32 ? 6 : 5));
    if (data !== null) out += `data: ${data}\n\n`;
  }
  return encoder.encode(out);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
