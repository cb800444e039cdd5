import { APIError } from '@anthropic-ai/sdk/core/error';
import { Stream } from '@anthropic-ai/sdk/core/streaming';
import { describe, expect, it, vi } from 'vitest';
import { anthropicEvents } from './anthropic-events';

// anthropicEvents must see a Messages stream exactly as the SDK's Stream does: each
// case is read both ways (Stream.fromSSEResponse on the same bytes) and compared.

const encoder = new TextEncoder();
const body = (chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });

async function ours(chunks: string[]): Promise<{ events: unknown[]; error?: unknown }> {
  const it = anthropicEvents(body(chunks), new Headers({ 'request-id': 'req_1' }));
  const events: unknown[] = [];
  try {
    for (let n = await it.next(); !n.done; n = await it.next()) events.push(n.value);
  } catch (error) {
    return { events, error };
  }
  return { events };
}

async function sdks(chunks: string[]): Promise<{ events: unknown[]; error?: unknown }> {
  const response = new Response(body(chunks), { headers: { 'content-type': 'text/event-stream', 'request-id': 'req_1' } });
  const stream = Stream.fromSSEResponse(response, new AbortController());
  const quiet = vi.spyOn(console, 'error').mockImplementation(() => {}); // the SDK logs an event that is not JSON
  const events: unknown[] = [];
  try {
    for await (const e of stream) events.push(e);
  } catch (error) {
    return { events, error };
  } finally {
    quiet.mockRestore();
  }
  return { events };
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const start = { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 1 } } };
const delta = (text: string) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });

describe('anthropicEvents (same events as the SDK Stream)', () => {
  const cases: [string, string[]][] = [
    ['a text answer with pings', [sse('message_start', start), sse('ping', { type: 'ping' }), sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }), sse('content_block_delta', delta('Hé 😀')), sse('content_block_stop', { type: 'content_block_stop', index: 0 }), sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } }), sse('message_stop', { type: 'message_stop' })]],
    ['events split across reads', (() => { const all = sse('message_start', start) + sse('content_block_delta', delta('x')); return [all.slice(0, 7), all.slice(7, 40), all.slice(40)]; })()],
    ['many events in one read', [Array.from({ length: 50 }, (_, i) => sse('content_block_delta', delta(String(i)))).join('')]],
    ['unnamed events and empty data are skipped', ['data: {"type":"x"}\n\n', 'event: message_stop\ndata:\n\n', sse('message_stop', { type: 'message_stop' })]],
    ['an error event mid-stream', [sse('message_start', start), sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }), sse('message_stop', { type: 'message_stop' })]],
    ['an error event that is not JSON', [sse('error', 'upstream went away')]],
    ['an event that is not JSON', [sse('message_start', start), 'event: content_block_delta\ndata: {"type":\n\n']],
    ['empty stream', []],
  ];

  it.each(cases)('%s', async (_name, chunks) => {
    const [a, b] = [await ours(chunks), await sdks(chunks)];
    expect(a.events).toEqual(b.events);
    expect(a.error?.constructor).toBe(b.error?.constructor);
    if (b.error instanceof APIError) {
      const [x, y] = [a.error as APIError, b.error];
      expect({ status: x.status, type: x.type, message: x.message, error: x.error, requestID: x.requestID }).toEqual({
        status: y.status,
        type: y.type,
        message: y.message,
        error: y.error,
        requestID: y.requestID,
      });
    }
  });

  it('return() stops reading and releases the body', async () => {
    const stream = body([sse('message_start', start), sse('message_stop', { type: 'message_stop' })]);
    const it = anthropicEvents(stream, new Headers());
    expect(((await it.next()).value as { type: string }).type).toBe('message_start');
    await it.return?.();
    expect(stream.locked).toBe(false);
  });
});
