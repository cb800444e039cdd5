import { describe, expect, it } from 'vitest';
import { readFirstEvent } from './chunk-stream';

async function* events(values: number[], fail?: Error) {
  for (const v of values) yield v;
  if (fail) throw fail;
}

async function drain<E>(it: AsyncIterator<E>): Promise<E[]> {
  const out: E[] = [];
  for (let n = await it.next(); !n.done; n = await it.next()) out.push(n.value);
  return out;
}

describe('readFirstEvent', () => {
  it('reads the first event up front and replays it before the rest', async () => {
    const { first, events: all } = await readFirstEvent(events([1, 2, 3]));
    expect(first).toEqual({ done: false, value: 1 });
    expect(await drain(all)).toEqual([1, 2, 3]);
  });

  it('passes an empty upstream through', async () => {
    const { first, events: all } = await readFirstEvent(events([]));
    expect(first.done).toBe(true);
    expect(await drain(all)).toEqual([]);
  });

  it('rejects when the first event fails, so the attempt fails as a whole', async () => {
    await expect(readFirstEvent(events([], new Error('overloaded')))).rejects.toThrow('overloaded');
  });

  it('forwards return() to the upstream iterator (a client that leaves)', async () => {
    let closed = false;
    const upstream = (async function* () {
      try {
        yield 1;
        yield 2;
      } finally {
        closed = true;
      }
    })();
    const { events: it } = await readFirstEvent(upstream);
    expect((await it.next()).value).toBe(1);
    await it.return?.();
    expect(closed).toBe(true);
  });
});
