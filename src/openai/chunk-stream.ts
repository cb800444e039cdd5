import { GatewayError, streamStalled } from './errors';
import { idleWatch } from './idle-watch';
import { SSE_DONE, sseData } from './sse';
import { SseEventSource } from './sse-event-source';
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
  const watch = idleWatch(idle.ms, () => streamStalled(idle.provider, idle.ms));
  /** Translated and not yet enqueued (sent before the error chunk if a later event fails). */
  let text = '';
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, error: unknown) => {
    finished = true;
    watch.stop();
    const gatewayError = error instanceof GatewayError ? error : toGatewayError(error);
    controller.enqueue(encoder.encode(text + sseData(translator.errorChunk(gatewayError)) + SSE_DONE));
    text = '';
    controller.close();
    abortUpstream();
  };
  const end = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    for (const chunk of translator.onEnd()) text += sseData(chunk);
    finished = true;
    watch.stop();
    controller.enqueue(encoder.encode(text + SSE_DONE));
    text = '';
    controller.close();
  };

  // Decoded SSE: every event one read brought is translated and sent as one chunk,
  // with one promise per read rather than a few per event.
  let more = true;
  const pullSse = async (source: SseEventSource<E>, controller: ReadableStreamDefaultController<Uint8Array>) => {
    try {
      for (;;) {
        for (let event = source.shift(); event !== undefined; event = source.shift()) {
          for (const chunk of translator.onEvent(event)) text += sseData(chunk);
        }
        if (!more) return end(controller);
        if (text) {
          controller.enqueue(encoder.encode(text));
          text = '';
          return;
        }
        more = await watch.wait(source.fill());
      }
    } catch (error) {
      fail(controller, error);
    }
  };

  const pullEvents = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    try {
      // Loop until something is sent: events like `ping` translate to nothing.
      for (;;) {
        const next = await watch.wait(events.next());
        if (next.done) return end(controller);
        for (const chunk of translator.onEvent(next.value)) text += sseData(chunk);
        if (text) {
          controller.enqueue(encoder.encode(text));
          text = '';
          return;
        }
      }
    } catch (error) {
      fail(controller, error);
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      pull: events instanceof SseEventSource ? (controller) => pullSse(events, controller) : pullEvents,
      cancel() {
        if (finished) return;
        finished = true;
        watch.stop();
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
  // Kept as it is (the event put back inside), so openAIChunkStream still drains it without a promise per event.
  if (events instanceof SseEventSource) return { first: await events.peek(), events };
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
