import { describe, expect, it } from 'vitest';
import { mergeStreams, type Tagged } from './merge-streams';

/** A source whose events are released by the test, in an order it chooses. */
function controlled<E>() {
  const queue: { resolve: (r: IteratorResult<E>) => void; reject: (e: unknown) => void }[] = [];
  const ready: (IteratorResult<E> | { error: unknown })[] = [];
  let returned = false;
  const settle = (r: IteratorResult<E> | { error: unknown }) => {
    const waiter = queue.shift();
    if (!waiter) return void ready.push(r);
    if ('error' in r) waiter.reject(r.error);
    else waiter.resolve(r);
  };
  const source: AsyncIterator<E> = {
    next: () =>
      new Promise((resolve, reject) => {
        const r = ready.shift();
        if (!r) return void queue.push({ resolve, reject });
        if ('error' in r) reject(r.error);
        else resolve(r);
      }),
    return: async () => {
      returned = true;
      return { done: true, value: undefined };
    },
  };
  return {
    source,
    push: (value: E) => settle({ done: false, value }),
    end: () => settle({ done: true, value: undefined }),
    fail: (error: unknown) => settle({ error }),
    get returned() {
      return returned;
    },
  };
}

async function* from<E>(items: E[]) {
  yield* items;
}

describe('mergeStreams', () => {
  it('tags a single source with choice 0', async () => {
    const merged = mergeStreams([from(['a', 'b'])]);
    const out: Tagged<string>[] = [];
    for (let r = await merged.next(); !r.done; r = await merged.next()) out.push(r.value);
    expect(out).toEqual([{ choice: 0, event: 'a' }, { choice: 0, event: 'b' }]);
  });

  it('yields events in arrival order across sources until all end', async () => {
    const a = controlled<string>();
    const b = controlled<string>();
    const merged = mergeStreams([a.source, b.source]);
    b.push('b1');
    expect(await merged.next()).toEqual({ done: false, value: { choice: 1, event: 'b1' } });
    a.push('a1');
    expect(await merged.next()).toEqual({ done: false, value: { choice: 0, event: 'a1' } });
    b.end();
    a.push('a2');
    expect(await merged.next()).toEqual({ done: false, value: { choice: 0, event: 'a2' } });
    a.end();
    expect(await merged.next()).toEqual({ done: true, value: undefined });
  });

  it('fails when any source fails, and return() closes every source', async () => {
    const a = controlled<string>();
    const b = controlled<string>();
    const merged = mergeStreams([a.source, b.source]);
    a.push('a1');
    expect((await merged.next()).value).toEqual({ choice: 0, event: 'a1' });
    b.fail(new Error('upstream died'));
    await expect(merged.next()).rejects.toThrow('upstream died');
    await merged.return?.();
    expect([a.returned, b.returned]).toEqual([true, true]);
  });
});
