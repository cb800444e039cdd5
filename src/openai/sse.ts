import type { ChatCompletionChunk } from './types';

// Server-sent events, both directions: encoding OpenAI chunks for the client and
// parsing an upstream's event stream.

export const SSE_DONE = 'data: [DONE]\n\n';

export const sseData = (chunk: ChatCompletionChunk): string => `data: ${JSON.stringify(chunk)}\n\n`;

export interface SseEvent {
  event: string | null;
  data: string;
}

/**
 * Splits an upstream byte stream into SSE events as they arrive (per the WHATWG
 * event-stream format: `\n`, `\r\n` or `\r` line ends, multi-line `data:`, comments).
 * Nothing is held back beyond the current incomplete line.
 *
 * An iterator rather than an async generator: every event of one read is parsed at
 * once and then handed out without another read or generator step, which in workerd
 * saves a few microtask round trips per event (`buffered` says how many are waiting).
 */
export function parseSse(body: ReadableStream<Uint8Array>): SseEventReader {
  return new SseEventReader(body);
}

export class SseEventReader implements AsyncIterableIterator<SseEvent> {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  /** Parsed events not yet handed out. */
  private readonly queue: SseEvent[] = [];
  private head = 0;
  // The current incomplete line, in pieces, joined only once a line end arrives: a
  // multi-megabyte event read in small pieces then costs linear time, not quadratic.
  private partial: string[] = [];
  private partialEndsWithCr = false;
  private event: string | null = null;
  private data: string[] = [];
  /** The reader is released: at the end, on a failure, or by return(). */
  private ended = false;
  private reading = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Events already parsed and waiting: the next `buffered` calls of next() need no read. */
  get buffered(): number {
    return this.queue.length - this.head;
  }

  next(): Promise<IteratorResult<SseEvent>> {
    if (this.head < this.queue.length) return Promise.resolve({ done: false, value: this.take() });
    return this.readMore();
  }

  /** The next event already parsed, if any (no read): with fill(), the way to take events without a promise each. */
  shift(): SseEvent | undefined {
    return this.head < this.queue.length ? this.take() : undefined;
  }

  /**
   * Reads once from the body and parses what came (shift() then hands it out). Resolves
   * false when the body has ended (or return() was called): no further read will bring
   * more, though the end may have completed one last event.
   */
  async fill(): Promise<boolean> {
    if (this.ended) return false;
    let result: ReadableStreamReadResult<Uint8Array>;
    this.reading = true;
    try {
      result = await this.reader.read();
    } catch (error) {
      this.reading = false;
      this.release();
      throw error;
    }
    this.reading = false;
    if (this.ended) {
      // return() came during the read.
      this.reader.releaseLock();
      return false;
    }
    if (result.done) {
      // Two line breaks flush the last line and dispatch an unterminated event
      // (lenient: some servers omit the final blank line).
      this.parse(this.decoder.decode() + '\n\n');
      this.release();
      return false;
    }
    this.parse(this.decoder.decode(result.value, { stream: true }));
    return true;
  }

  /** Stops early: the reader's lock is released (after the read in progress, if one is). */
  return(): Promise<IteratorResult<SseEvent>> {
    this.queue.length = 0;
    this.head = 0;
    this.release();
    return Promise.resolve({ done: true, value: undefined });
  }

  private take(): SseEvent {
    const event = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    return event;
  }

  private release() {
    if (this.ended) return;
    this.ended = true;
    if (!this.reading) this.reader.releaseLock();
  }

  private async readMore(): Promise<IteratorResult<SseEvent>> {
    for (;;) {
      const more = await this.fill();
      if (this.head < this.queue.length) return { done: false, value: this.take() };
      if (!more) return { done: true, value: undefined };
    }
  }

  /** Adds the complete events in `text` (after what earlier reads left) to the queue. */
  private parse(text: string) {
    if (!this.partialEndsWithCr && !LINE_END_RE.test(text)) {
      if (text) this.partial.push(text);
      return;
    }
    const buffer = this.partial.length ? this.partial.join('') + text : text;
    let start = 0;
    // Next \n and \r at or after `start`, each searched again only once passed (-1 stays -1).
    let lf = buffer.indexOf('\n');
    let cr = buffer.indexOf('\r');
    for (;;) {
      if (lf >= 0 && lf < start) lf = buffer.indexOf('\n', start);
      if (cr >= 0 && cr < start) cr = buffer.indexOf('\r', start);
      // A \r at the very end may be the first half of \r\n: wait for the next read.
      const nl = cr < 0 ? lf : lf < 0 ? (cr === buffer.length - 1 ? -1 : cr) : Math.min(lf, cr);
      if (nl < 0) break;
      const line = buffer.slice(start, nl);
      start = nl + (nl === cr && buffer.charCodeAt(nl + 1) === 10 ? 2 : 1);
      if (line === '') {
        if (this.data.length > 0) this.queue.push({ event: this.event, data: this.data.length === 1 ? this.data[0] : this.data.join('\n') });
        this.event = null;
        this.data = [];
      } else if (line.startsWith('data:')) {
        this.data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
      } else if (line.startsWith('event:')) {
        this.event = line.slice(line.charCodeAt(6) === 32 ? 7 : 6);
      }
      // Comments (":") and other fields (id, retry) are not needed.
    }
    const rest = buffer.slice(start);
    this.partial = rest ? [rest] : [];
    this.partialEndsWithCr = rest.endsWith('\r');
  }
}

const LINE_END_RE = /[\r\n]/;
