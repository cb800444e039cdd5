import { describe, expect, it } from 'vitest';
import { withFirstEvent } from './chunk-stream';

async function* events(values: number[], fail?: Error) {
  for (const v of values) yield v;
  if (fail) throw fail;
}

async function drain<E>(it: AsyncIterator<E>): Promise<E[]> {
  const out: E[] = [];
  for (let n = await it.next(); !n.done; n = await it.next()) out.push(n.value);
  return out;
}

describe('withFirstEvent', () => {
  it('reads the first event up front and replays it before the rest', async () => {
    expect(await drain(await withFirstEvent(events([1, 2, 3])))).toEqual([1, 2, 3]);
  });

  it('passes an empty upstream through', async () => {
    expect(await drain(await withFirstEvent(events([])))).toEqual([]);
  });

  it('rejects when the first event fails, so the attempt fails as a whole', async () => {
    await expect(withFirstEvent(events([], new Error('overloaded')))).rejects.toThrow('overloaded');
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
    const it = await withFirstEvent(upstream);
    expect((await it.next()).value).toBe(1);
    await it.return?.();
    expect(closed).toBe(true);
  });
});
