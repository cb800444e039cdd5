import type { StreamEnd } from '../openai/chunk-stream';
import { onClientDeparture } from '../openai/client-departure';
import type { Usage } from '../openai/types';
import { lastUsageIn, splitEvents, stripUsageEvent } from './usage-in-text';

// Passes a response body (JSON or SSE) through to the client and reports, once, how it
// ended and the token usage it carried. Pull-based: a chunk is read from the upstream only
// when the client wants one, and forwarded as soon as it is read. Only the last few KiB are
// kept (the usage object comes last). With `strip`, the usage-only chunk the gateway asked
// for on the client's behalf is taken out of the stream: a chunk of whole events without
// `[]` goes on untouched; any other is decoded, an incomplete SSE event held back until its
// end arrives (a client cannot use half an event), and the usage chunk removed.

const TAIL_BYTES = 4096;
const decoderOptions = { stream: true } as const;

/** @param options.clientSignal the request's: the client leaving ends the tap (openai/client-departure.ts) */
export function tapUsage(
  body: ReadableStream<Uint8Array>,
  options: { strip: boolean; onEnd: (end: StreamEnd) => void; clientSignal?: AbortSignal },
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const { strip, onEnd, clientSignal } = options;
  // The last bytes passed on to the client.
  const tail: Uint8Array[] = [];
  let tailBytes = 0;
  let stripped: Usage | null = null;
  let held = '';
  let ended = false;
  const decoder = strip ? new TextDecoder() : undefined;
  const encoder = strip ? new TextEncoder() : undefined;

  const departure = onClientDeparture(clientSignal, () => {
    if (ended) return false;
    end('cancelled');
    reader.cancel(clientSignal?.reason).catch(() => {});
    return true;
  });
  const end = (outcome: StreamEnd['outcome']) => {
    if (ended) return;
    ended = true;
    departure.stop();
    const tailDecoder = new TextDecoder();
    const text = tail.map((c) => tailDecoder.decode(c, decoderOptions)).join('') + tailDecoder.decode();
    const usage = stripped ?? lastUsageIn(text);
    onEnd({ usage, outcome, errorChunk: usage === null && /"error"\s*:\s*\{/.test(text) });
  };

  const pass = (controller: ReadableStreamDefaultController<Uint8Array>, chunk: Uint8Array) => {
    tail.push(chunk);
    tailBytes += chunk.byteLength;
    while (tail.length > 1 && tailBytes - tail[0].byteLength >= TAIL_BYTES) tailBytes -= tail.shift()!.byteLength;
    controller.enqueue(chunk);
  };
  /** Strip mode, slow path: the text of complete events, without the usage chunk. */
  const passEvents = (controller: ReadableStreamDefaultController<Uint8Array>, events: string): boolean => {
    const { text, usage } = stripUsageEvent(events);
    if (usage) stripped = usage;
    if (!text) return false;
    pass(controller, encoder!.encode(text));
    return true;
  };

  return new ReadableStream<Uint8Array>(
    {
      start: departure.start,
      async pull(controller) {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) {
              if (strip) {
                const rest = held + decoder!.decode();
                held = '';
                if (rest) passEvents(controller, rest);
              }
              controller.close();
              end('done');
              return;
            }
            // Fast path (and the only one without strip): whole events that cannot be the usage
            // chunk go on as the upstream's own bytes, not decoded. Nothing held back means the
            // decoder holds no partial character either.
            if (!strip || (held === '' && endsEvent(value) && !hasEmptyList(value))) {
              pass(controller, value);
              return;
            }
            const { complete, rest } = splitEvents(held + decoder!.decode(value, decoderOptions));
            held = rest;
            if (complete && passEvents(controller, complete)) return;
          }
        } catch (error) {
          controller.error(error);
          end('errored');
        }
      },
      async cancel(reason) {
        end('cancelled');
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Whether the bytes end with a blank line (the end of an SSE event). */
function endsEvent(b: Uint8Array): boolean {
  const n = b.length;
  return n >= 2 && b[n - 1] === 10 && (b[n - 2] === 10 || (n >= 4 && b[n - 2] === 13 && b[n - 3] === 10 && b[n - 4] === 13));
}

/** Whether the bytes contain `[]` (the usage chunk's empty choices). */
function hasEmptyList(b: Uint8Array): boolean {
  for (let i = b.indexOf(91); i >= 0 && i < b.length - 1; i = b.indexOf(91, i + 1)) if (b[i + 1] === 93) return true;
  return false;
}
