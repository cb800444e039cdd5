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
  let buffer = '';
  let event: string | null = null;
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // At the end, two line breaks flush the last line and dispatch an unterminated
      // event (lenient: some servers omit the final blank line).
      buffer += done ? decoder.decode() + '\n\n' : decoder.decode(value, { stream: true });
      let start = 0;
      for (;;) {
        const nl = findLineEnd(buffer, start);
        if (nl < 0) break;
        const line = buffer.slice(start, nl);
        start = nl + (buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1);
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
      buffer = buffer.slice(start);
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

function findLineEnd(s: string, from: number): number {
  const n = s.indexOf('\n', from);
  const r = s.indexOf('\r', from);
  if (r < 0) return n;
  if (n < 0) return r === s.length - 1 ? -1 : r; // a trailing \r may be the first half of \r\n
  return Math.min(n, r);
}
