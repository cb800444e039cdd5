import type { SseEvent, SseEventReader } from './sse';

// An upstream's stream events, decoded from its SSE (JSON.parse, skipping pings, …),
// in a form openAIChunkStream can drain without a promise per event: shift() hands out
// what one read brought, fill() reads again. Also an AsyncIterator, for code that wants
// one event at a time (readFirstEvent, mergeStreams).

/** SSE event → the provider's event, or undefined to skip it; throws for an event that is a failure. */
export type SseDecoder<E> = (event: SseEvent) => E | undefined;

export class SseEventSource<E> implements AsyncIterableIterator<E> {
  private replay: { value: E } | undefined;

  constructor(
    private readonly sse: SseEventReader,
    private readonly decode: SseDecoder<E>,
  ) {}

  [Symbol.asyncIterator]() {
    return this;
  }

  /** The next event from what was already read (undefined: call fill()). Decoding errors are thrown here. */
  shift(): E | undefined {
    if (this.replay) {
      const { value } = this.replay;
      this.replay = undefined;
      return value;
    }
    for (let event = this.sse.shift(); event; event = this.sse.shift()) {
      const decoded = this.decode(event);
      if (decoded !== undefined) return decoded;
    }
    return undefined;
  }

  /** Reads once more (see SseEventReader.fill): false when nothing more will come. */
  fill(): Promise<boolean> {
    return this.sse.fill();
  }

  async next(): Promise<IteratorResult<E>> {
    for (;;) {
      const value = this.shift();
      if (value !== undefined) return { done: false, value };
      if (!(await this.fill())) {
        const last = this.shift();
        return last !== undefined ? { done: false, value: last } : { done: true, value: undefined };
      }
    }
  }

  /** Reads up to the first event and keeps it: the next shift() or next() hands it out again. */
  async peek(): Promise<IteratorResult<E>> {
    const first = await this.next();
    if (!first.done) this.replay = { value: first.value };
    return first;
  }

  async return(): Promise<IteratorResult<E>> {
    this.replay = undefined;
    await this.sse.return();
    return { done: true, value: undefined };
  }
}
