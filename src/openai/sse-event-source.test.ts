import { describe, expect, it } from 'vitest';
import { parseSse, type SseEvent } from './sse';
import { SseEventSource } from './sse-event-source';

const encoder = new TextEncoder();
const streamOf = (chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
const numbers = (e: SseEvent) => (e.event === 'skip' ? undefined : Number(e.data));
const source = (chunks: string[]) => new SseEventSource(parseSse(streamOf(chunks)), numbers);

async function drain<E>(it: AsyncIterator<E>): Promise<E[]> {
  const out: E[] = [];
  for (let n = await it.next(); !n.done; n = await it.next()) out.push(n.value);
  return out;
}

describe('SseEventSource', () => {
  it('decodes events and skips what the decoder skips', async () => {
    expect(await drain(source(['data: 1\n\nevent: skip\ndata: 9\n\n', 'data: 2\n\ndata: 3']))).toEqual([1, 2, 3]);
  });

  it('shift() hands out what one fill() read, with no further read', async () => {
    const s = source(['data: 1\n\ndata: 2\n\n', 'data: 3\n\n']);
    expect(s.shift()).toBeUndefined();
    expect(await s.fill()).toBe(true);
    expect([s.shift(), s.shift(), s.shift()]).toEqual([1, 2, undefined]);
    expect(await s.fill()).toBe(true);
    expect(s.shift()).toBe(3);
    expect(await s.fill()).toBe(false);
    expect(s.shift()).toBeUndefined();
  });

  it('peek() reads the first event and hands it out again first', async () => {
    const s = source(['event: skip\ndata: 0\n\n', 'data: 1\n\ndata: 2\n\n']);
    expect(await s.peek()).toEqual({ done: false, value: 1 });
    expect(s.shift()).toBe(1);
    expect(s.shift()).toBe(2);
    expect((await s.peek()).done).toBe(true);
  });

  it('a decoder that throws fails shift() and next()', async () => {
    const failing = new SseEventSource(parseSse(streamOf(['data: 1\n\ndata: boom\n\n'])), (e) => {
      if (e.data === 'boom') throw new Error('bad event');
      return e.data;
    });
    expect((await failing.next()).value).toBe('1');
    await expect(failing.next()).rejects.toThrow('bad event');
  });

  it('return() releases the body', async () => {
    const body = streamOf(['data: 1\n\n']);
    const s = new SseEventSource(parseSse(body), numbers);
    await s.peek();
    await s.return();
    expect(body.locked).toBe(false);
  });
});
