import { describe, expect, it } from 'vitest';
import { parseSse, SSE_DONE, sseData, type SseEvent } from './sse';
import type { ChatCompletionChunk } from './types';

// The upstream event-stream parser, against the WHATWG event-stream rules, with the
// network's habit of splitting bytes anywhere (including inside a UTF-8 character).

const encoder = new TextEncoder();

function streamOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(typeof c === 'string' ? encoder.encode(c) : c);
      controller.close();
    },
  });
}

async function parse(chunks: (string | Uint8Array)[]): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const e of parseSse(streamOf(chunks))) events.push(e);
  return events;
}

const data = (d: string, event: string | null = null): SseEvent => ({ event, data: d });

describe('parseSse', () => {
  const cases: [name: string, input: string, expected: SseEvent[]][] = [
    ['LF line ends', 'data: a\n\ndata: b\n\n', [data('a'), data('b')]],
    ['CRLF line ends', 'data: a\r\n\r\ndata: b\r\n\r\n', [data('a'), data('b')]],
    ['CR line ends', 'data: a\r\rdata: b\r\r', [data('a'), data('b')]],
    ['mixed line ends', 'data: a\r\n\ndata: b\n\r\ndata: c\r\r\n', [data('a'), data('b'), data('c')]],
    ['multi-line data joined with LF', 'data: line 1\ndata: line 2\ndata:\ndata: line 4\n\n', [data('line 1\nline 2\n\nline 4')]],
    ['no space after the colon', 'data:{"a":1}\n\n', [data('{"a":1}')]],
    ['only the first space is removed', 'data:  two spaces\n\n', [data(' two spaces')]],
    ['comments ignored', ': keep-alive\n\n:another\ndata: x\n: inside\n\n', [data('x')]],
    ['id and retry ignored', 'id: 7\nretry: 1000\ndata: x\n\n', [data('x')]],
    ['unknown fields ignored', 'foo: bar\ndata: x\n\n', [data('x')]],
    ['event names', 'event: message_start\ndata: {}\n\nevent: ping\ndata: {"type":"ping"}\n\n', [data('{}', 'message_start'), data('{"type":"ping"}', 'ping')]],
    ['event name without a space', 'event:delta\ndata: 1\n\n', [data('1', 'delta')]],
    ['event name reset after each event', 'event: a\ndata: 1\n\ndata: 2\n\n', [data('1', 'a'), data('2')]],
    ['event name without data dispatches nothing', 'event: a\n\ndata: 2\n\n', [data('2')]],
    ['blank lines alone dispatch nothing', '\n\n\r\n\r\r\n', []],
    ['unterminated last event', 'data: a\n\ndata: b', [data('a'), data('b')]],
    ['last event ended by one line end', 'data: a\n\ndata: b\n', [data('a'), data('b')]],
    ['last line ended by a lone CR', 'data: a\r', [data('a')]],
    ['empty stream', '', []],
    ['a byte-order mark at the start', '\uFEFFdata: a\n\n', [data('a')]],
    ['multi-byte UTF-8 in data and names', 'event: réponse\ndata: {"t":"héllo 世界 😀"}\n\n', [data('{"t":"héllo 世界 😀"}', 'réponse')]],
    ['OpenAI stream end', 'data: {"id":"x"}\n\ndata: [DONE]\n\n', [data('{"id":"x"}'), data('[DONE]')]],
  ];

  it.each(cases)('%s', async (_name, input, expected) => {
    expect(await parse([input])).toEqual(expected);
  });

  // Every case again, split at every byte (one byte per read) and at each single split point.
  it.each(cases)('%s, split at every byte boundary', async (_name, input, expected) => {
    const bytes = encoder.encode(input);
    expect(await parse([...bytes].map((b) => new Uint8Array([b])))).toEqual(expected);
    for (let i = 1; i < bytes.length; i++) {
      expect(await parse([bytes.subarray(0, i), bytes.subarray(i)]), `split at byte ${i}`).toEqual(expected);
    }
  });

  it('splits inside every multi-byte character, at every pair of split points', async () => {
    const input = 'event: ü\r\ndata: 😀é\r\ndata: 世\r\n\r\ndata: end\r';
    const expected = [data('😀é\n世', 'ü'), data('end')];
    const bytes = encoder.encode(input);
    for (let i = 1; i < bytes.length; i++) {
      for (let j = i + 1; j < bytes.length; j++) {
        expect(await parse([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]), `splits at ${i}, ${j}`).toEqual(expected);
      }
    }
  });

  it('yields each event as soon as its blank line arrives', async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const events = parseSse(stream);
    controller.enqueue(encoder.encode('data: first\n\ndata: sec'));
    expect((await events.next()).value).toEqual(data('first'));
    const second = events.next();
    controller.enqueue(encoder.encode('ond\n\n'));
    expect((await second).value).toEqual(data('second'));
    controller.close();
    expect((await events.next()).done).toBe(true);
  });

  it('reassembles one large event from many small reads', async () => {
    const payload = JSON.stringify({ text: 'x'.repeat(200_000), more: 'é😀'.repeat(1000) });
    const bytes = encoder.encode(`data: ${payload}\n\ndata: [DONE]\n\n`);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 997) chunks.push(bytes.subarray(i, i + 997));
    expect(await parse(chunks)).toEqual([data(payload), data('[DONE]')]);
  });

  it('parses many events arriving in one read', async () => {
    const input = Array.from({ length: 2000 }, (_, i) => `data: ${i}\n\n`).join('');
    const events = await parse([input]);
    expect(events).toHaveLength(2000);
    expect(events[1999]).toEqual(data('1999'));
  });

  it('releases the reader when the consumer stops early', async () => {
    const stream = streamOf(['data: a\n\ndata: b\n\n']);
    for await (const _ of parseSse(stream)) break;
    expect(stream.locked).toBe(false);
  });

  it('hands out every event of one read without reading again (buffered counts them)', async () => {
    let reads = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        reads++;
        controller.enqueue(encoder.encode('data: 1\n\ndata: 2\n\ndata: 3\n\n'));
        controller.close();
      },
    });
    const events = parseSse(stream);
    expect(events.buffered).toBe(0);
    expect((await events.next()).value).toEqual(data('1'));
    expect(events.buffered).toBe(2);
    expect((await events.next()).value).toEqual(data('2'));
    expect((await events.next()).value).toEqual(data('3'));
    expect(events.buffered).toBe(0);
    expect(reads).toBe(1);
    expect((await events.next()).done).toBe(true);
  });

  it('return() during a read releases the reader once that read settles', async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const events = parseSse(stream);
    const pending = events.next();
    await events.return();
    controller.enqueue(encoder.encode('data: late\n\n'));
    expect((await pending).done).toBe(true);
    expect(stream.locked).toBe(false);
  });

  it('propagates a read error to the consumer', async () => {
    let reads = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (reads++ === 0) controller.enqueue(encoder.encode('data: a\n\n'));
        else controller.error(new Error('connection reset'));
      },
    });
    const seen: SseEvent[] = [];
    await expect(
      (async () => {
        for await (const e of parseSse(stream)) seen.push(e);
      })(),
    ).rejects.toThrow('connection reset');
    expect(seen).toEqual([data('a')]);
  });
});

describe('sseData / SSE_DONE', () => {
  it('encode chunks that parseSse reads back', async () => {
    const chunk: ChatCompletionChunk = {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { content: 'line 1\nline 2 \u2028 😀' }, finish_reason: null }],
    };
    const events = await parse([sseData(chunk) + SSE_DONE]);
    expect(events.map((e) => e.data)).toEqual([JSON.stringify(chunk), '[DONE]']);
    expect(JSON.parse(events[0].data)).toEqual(chunk);
  });

  it('keep every event on one data line', () => {
    expect(sseData({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [] })).toMatch(/^data: [^\n]*\n\n$/);
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
  });
});
