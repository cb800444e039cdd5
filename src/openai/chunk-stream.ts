import { GatewayError, streamStalled } from './errors';
import { onClientDeparture } from './client-departure';
import { idleWatch } from './idle-watch';
import { SSE_DONE, sseData } from './sse';
import { SseEventSource } from './sse-event-source';
import type { ChatCompletionChunk, ChatCompletionRequest, Usage } from './types';

const encoder = new TextEncoder();

/** A provider's stream translation: pure, one upstream event in, OpenAI chunks out. */
export interface StreamTranslator<E> {
  onEvent(event: E): ChatCompletionChunk[];
  /** Chunks owed after the upstream ended normally (e.g. the usage chunk). */
  onEnd(): ChatCompletionChunk[];
  /** The final chunk for a failure after the stream began: carries the error object. */
  errorChunk(error: GatewayError): ChatCompletionChunk;
  /** The token usage the upstream reported so far (null: none yet), in OpenAI's shape. */
  usage?(): Usage | null;
}

/** How a stream ended and the usage it carried: what usage accounting records (usage/meter.ts). */
export interface StreamEnd {
  usage: Usage | null;
  /** 'done': read to the end; 'cancelled': the client went away; 'errored': the upstream failed. */
  outcome: 'done' | 'cancelled' | 'errored';
  /** The stream ended with an OpenAI error chunk (a failure after it began). */
  errorChunk: boolean;
}

/**
 * Marks a request whose stream_options.include_usage usage accounting set, not the client
 * (a symbol: never serialised upstream). A pass-through stream then carries a usage chunk
 * the meter takes out again; a translated one reports its usage through
 * openAIChunkStream's onEnd and never emits the chunk, so its body needs no tap.
 */
const USAGE_ADDED_BY_GATEWAY: unique symbol = Symbol('stream_options.include_usage added by the gateway');
type Marked = { [USAGE_ADDED_BY_GATEWAY]?: true };

/** Asks the upstream for a stream's usage the client did not ask for (see USAGE_ADDED_BY_GATEWAY). */
export function addUsageForAccounting(request: ChatCompletionRequest): void {
  request.stream_options = { ...request.stream_options, include_usage: true };
  (request as Marked)[USAGE_ADDED_BY_GATEWAY] = true;
}

/** A StreamEnd to hand on (ProviderResult.ended) and the onEnd for openAIChunkStream that settles it. */
export function streamEndReport(): { ended: Promise<StreamEnd>; onEnd: (end: StreamEnd) => void } {
  let onEnd!: (end: StreamEnd) => void;
  const ended = new Promise<StreamEnd>((resolve) => (onEnd = resolve));
  return { ended, onEnd };
}

/** Whether a translated stream should end with the usage chunk: only when the client asked. */
export const clientAskedForUsage = (request: ChatCompletionRequest): boolean =>
  request.stream === true && request.stream_options?.include_usage === true && !(request as Marked)[USAGE_ADDED_BY_GATEWAY];

export interface ChunkStreamOptions {
  /** An upstream silent this long (ms; 0: no limit) is abandoned, and the stream ends with an `upstream_stalled` error chunk. */
  idle?: { ms: number; provider: string };
  /** Told once how the stream ended, with the translator's usage (for usage accounting). */
  onEnd?: (end: StreamEnd) => void;
  /** Aborts when the client leaves: the upstream is aborted and the end reported as cancelled (client-departure.ts). */
  clientSignal?: AbortSignal;
}

/**
 * Streams translated chunks to the client as each upstream event arrives, with no
 * added delay; at most a few events are read ahead of a slow client. An upstream
 * failure mid-stream becomes a final error chunk and `[DONE]`, never a hang or a
 * truncated stream; the client going away aborts the upstream.
 *
 * @param toGatewayError maps whatever the upstream iterator throws to a GatewayError
 */
export function openAIChunkStream<E>(
  events: AsyncIterator<E>,
  translator: StreamTranslator<E>,
  toGatewayError: (error: unknown) => GatewayError,
  abortUpstream: () => void,
  { idle = { ms: 0, provider: 'the upstream' }, onEnd, clientSignal }: ChunkStreamOptions = {},
): ReadableStream<Uint8Array> {
  const watch = idleWatch(idle.ms, () => streamStalled(idle.provider, idle.ms));
  const stop = () => {
    abortUpstream();
    // Not awaited: a generator that is mid-read finishes that read (now aborted) first.
    Promise.resolve(events.return?.()).catch(() => {});
  };
  const departure = onClientDeparture(clientSignal, () => {
    if (!finish('cancelled', false)) return false;
    stop();
    return true;
  });
  let finished = false;
  /** Marks the stream finished, once: false when it already was (then nothing more may be sent or reported). */
  const finish = (outcome: StreamEnd['outcome'], errorChunk: boolean): boolean => {
    if (finished) return false;
    finished = true;
    watch.stop();
    departure.stop();
    onEnd?.({ usage: translator.usage?.() ?? null, outcome, errorChunk });
    return true;
  };
  /** Translated and not yet enqueued (sent before the error chunk if a later event fails). */
  let text = '';
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, error: unknown) => {
    if (!finish('done', true)) return;
    const gatewayError = error instanceof GatewayError ? error : toGatewayError(error);
    controller.enqueue(encoder.encode(text + sseData(translator.errorChunk(gatewayError)) + SSE_DONE));
    text = '';
    controller.close();
    abortUpstream();
  };
  const end = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (finished) return;
    for (const chunk of translator.onEnd()) text += sseData(chunk);
    finish('done', false);
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
        if (finished) return;
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
        if (finished) return;
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
      start: departure.start,
      pull: events instanceof SseEventSource ? (controller) => pullSse(events, controller) : pullEvents,
      cancel() {
        if (finish('cancelled', false)) stop();
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
