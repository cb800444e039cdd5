import { GatewayError } from '../openai/errors';

// A stream is the router's to retry until its first byte reaches the client. So the
// router reads that first chunk itself (within the first-byte timeout), and only then
// answers: if the upstream failed before sending anything, what the stream helpers
// turned into a lone error chunk is read back here as the attempt's failure.

export class FirstByteTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no first byte within ${ms} ms`);
  }
}

/**
 * Waits for the stream's first chunk. Resolves with the whole stream (that chunk
 * included); rejects with a GatewayError if the stream is only an error, or
 * FirstByteTimeout. Either way a rejected stream is cancelled, and with it the upstream.
 *
 * The chunk is read from one branch of a tee, and the other branch is what the client
 * gets: in workerd a tee of the runtime's own streams stays inside the runtime, so a
 * pass-through stream is still piped with no JavaScript per chunk (workerd cannot pipe
 * one native identity stream into another, which re-assembling the stream would need).
 */
export async function awaitFirstChunk(body: ReadableStream<Uint8Array>, timeoutMs: number, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
  const [peek, rest] = body.tee();
  const reader = peek.getReader();
  const cancelAll = () => {
    reader.cancel().catch(() => {});
    rest.cancel().catch(() => {});
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new FirstByteTimeout(timeoutMs)), timeoutMs);
        onAbort = () => reject(signal.reason ?? new Error('aborted'));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } catch (error) {
    cancelAll();
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  const failed = first.done ? null : failedStart(first.value);
  if (failed) {
    cancelAll();
    throw failed;
  }
  // The peeking branch is done; the source now flows to `rest` alone.
  reader.cancel().catch(() => {});
  return rest;
}

const decoder = new TextDecoder();

/** The code of a lone error chunk → the status it stands for (the chunk carries no status). */
const STATUS_BY_CODE: Record<string, number> = {
  rate_limit_exceeded: 429,
  upstream_timeout: 504,
  upstream_unavailable: 503,
};

/**
 * If the first bytes of a stream are only the gateway's final error chunk (and
 * `[DONE]`), the error it carries; else null. A stream that began normally never starts
 * with one: its first chunk is content, a role delta, or a comment.
 */
export function failedStart(bytes: Uint8Array): GatewayError | null {
  // An error chunk is small; a large first chunk is content.
  if (bytes.byteLength > 64 * 1024) return null;
  const text = decoder.decode(bytes).trimStart();
  if (!text.startsWith('data:')) return null;
  const end = text.search(/\r?\n\r?\n/);
  const data = text.slice(5, end < 0 ? text.length : end).trim();
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    return null;
  }
  const error = (chunk as { error?: unknown; choices?: unknown[] })?.error as { message?: unknown; type?: unknown; code?: unknown; param?: unknown } | undefined;
  if (!error || typeof error !== 'object' || typeof error.message !== 'string') return null;
  const choices = (chunk as { choices?: unknown[] }).choices;
  if (Array.isArray(choices) && choices.length > 0) return null;
  const code = typeof error.code === 'string' ? error.code : null;
  const type = typeof error.type === 'string' ? error.type : 'upstream_error';
  const status = (code ? STATUS_BY_CODE[code] : undefined) ?? (type === 'invalid_request_error' ? 400 : 502);
  return new GatewayError(status, error.message, type, typeof error.param === 'string' ? error.param : null, code);
}
