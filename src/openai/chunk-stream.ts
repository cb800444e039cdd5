import { GatewayError, streamStalled, withinMs } from './errors';
import { SSE_DONE, sseData } from './sse';
import type { ChatCompletionChunk } from './types';

const encoder = new TextEncoder();

/** A provider's stream translation: pure, one upstream event in, OpenAI chunks out. */
export interface StreamTranslator<E> {
  onEvent(event: E): ChatCompletionChunk[];
  /** Chunks owed after the upstream ended normally (e.g. the usage chunk). */
  onEnd(): ChatCompletionChunk[];
  /** The final chunk for a failure after the stream began: carries the error object. */
  errorChunk(error: GatewayError): ChatCompletionChunk;
}

/**
 * Streams translated chunks to the client as each upstream event arrives, with no
 * added delay; at most a few events are read ahead of a slow client. An upstream
 * failure mid-stream becomes a final error chunk and `[DONE]`, never a hang or a
 * truncated stream; the client going away aborts the upstream.
 *
 * @param toGatewayError maps whatever the upstream iterator throws to a GatewayError
 * @param idle an upstream silent this long (ms; 0: no limit) is abandoned, and the stream ends with an `upstream_stalled` error chunk
 */
export function openAIChunkStream<E>(
  events: AsyncIterator<E>,
  translator: StreamTranslator<E>,
  toGatewayError: (error: unknown) => GatewayError,
  abortUpstream: () => void,
  idle: { ms: number; provider: string } = { ms: 0, provider: 'the upstream' },
): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // Loop until something is sent: events like `ping` translate to nothing.
          for (;;) {
            const next = await withinMs(events.next(), idle.ms, () => streamStalled(idle.provider, idle.ms));
            const chunks = next.done ? translator.onEnd() : translator.onEvent(next.value);
            let text = '';
            for (const chunk of chunks) text += sseData(chunk);
            if (next.done) {
              finished = true;
              controller.enqueue(encoder.encode(text + SSE_DONE));
              controller.close();
              return;
            }
            if (text) {
              controller.enqueue(encoder.encode(text));
              return;
            }
          }
        } catch (error) {
          finished = true;
          const gatewayError = error instanceof GatewayError ? error : toGatewayError(error);
          controller.enqueue(encoder.encode(sseData(translator.errorChunk(gatewayError)) + SSE_DONE));
          controller.close();
          abortUpstream();
        }
      },
      cancel() {
        if (finished) return;
        finished = true;
        abortUpstream();
        // Not awaited: a generator that is mid-read finishes that read (now aborted) first.
        Promise.resolve(events.return?.()).catch(() => {});
      },
    },
    // Reads a few events ahead while the client is written to: bounded, and never delays one.
    { highWaterMark: 16 },
  );
}

/**
 * Reads an upstream's first event before the response is answered, so a failure there
 * is still an HTTP error the router may retry, and the stream it returns can be marked
 * `started` (the router then need not peek at it). Returns that first result, for the
 * provider to inspect, and the iterator with it put back in front.
 */
export async function readFirstEvent<E>(events: AsyncIterator<E>): Promise<{ first: IteratorResult<E>; events: AsyncIterator<E> }> {
  const first = await events.next();
  if (first.done) return { first, events };
  let replayed = false;
  return {
    first,
    events: {
      next: () => {
        if (replayed) return events.next();
        replayed = true;
        return Promise.resolve(first);
      },
      return: (value?: unknown) => events.return?.(value) ?? Promise.resolve({ done: true, value: undefined as E }),
    },
  };
}
