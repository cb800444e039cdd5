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
 */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  // The current incomplete line, in pieces, joined only once a line end arrives: a
  // multi-megabyte event read in small pieces then costs linear time, not quadratic.
  let partial: string[] = [];
  let partialEndsWithCr = false;
  let event: string | null = null;
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // At the end, two line breaks flush the last line and dispatch an unterminated
      // event (lenient: some servers omit the final blank line).
      const text = done ? decoder.decode() + '\n\n' : decoder.decode(value, { stream: true });
      if (!partialEndsWithCr && !LINE_END_RE.test(text)) {
        if (text) partial.push(text);
        continue;
      }
      const buffer = partial.length ? partial.join('') + text : text;
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
          if (data.length > 0) yield { event, data: data.join('\n') };
          event = null;
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
        } else if (line.startsWith('event:')) {
          event = line.slice(line.charCodeAt(6) === 32 ? 7 : 6);
        }
        // Comments (":") and other fields (id, retry) are not needed.
      }
      const rest = buffer.slice(start);
      partial = rest ? [rest] : [];
      partialEndsWithCr = rest.endsWith('\r');
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

const LINE_END_RE = /[\r\n]/;
