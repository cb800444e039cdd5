import { describe, expect, it } from 'vitest';
import { afterFailure, IsolateCooldownStore, type Health } from './cooldown';

const policy = { cooldownFailures: 3, cooldownWindowMs: 10_000, cooldownMs: 30_000 };
const T = 1_000_000;

describe('afterFailure', () => {
  const cases: [name: string, before: Health | undefined, now: number, retryAfterMs: number | undefined, expected: Health][] = [
    ['a first failure: counted, not resting', undefined, T, undefined, { failures: [T], until: 0 }],
    ['a second within the window', { failures: [T], until: 0 }, T + 1000, undefined, { failures: [T, T + 1000], until: 0 }],
    ['the third within the window: rests for the cooldown, count restarts', { failures: [T, T + 1000], until: 0 }, T + 2000, undefined, { failures: [], until: T + 32_000, reason: 'failures' }],
    ['old failures fall out of the window', { failures: [T, T + 1000], until: 0 }, T + 10_500, undefined, { failures: [T + 1000, T + 10_500], until: 0 }],
    ['a retry-after: rests that long', undefined, T, 7000, { failures: [T], until: T + 7000, reason: 'retry_after' }],
    ['retry-after 0: not resting', undefined, T, 0, { failures: [T], until: 0 }],
    ['a shorter retry-after does not shorten a rest', { failures: [], until: T + 20_000, reason: 'failures' }, T, 1000, { failures: [T], until: T + 20_000, reason: 'failures' }],
    ['a longer retry-after extends it', { failures: [], until: T + 2000, reason: 'failures' }, T, 60_000, { failures: [T], until: T + 60_000, reason: 'retry_after' }],
    ['the third failure with a longer retry-after keeps the longer rest', { failures: [T, T], until: 0 }, T, 60_000, { failures: [T, T, T], until: T + 60_000, reason: 'retry_after' }],
  ];
  it.each(cases)('%s', (_name, before, now, retryAfterMs, expected) => {
    expect(afterFailure(before, now, policy, retryAfterMs)).toEqual(expected);
  });
});

describe('IsolateCooldownStore', () => {
  it('shares health by deployment key across requests, and forgets it on success', async () => {
    const store = new IsolateCooldownStore();
    await store.failure('a', T, policy, 5000);
    expect((await store.read(['a', 'b'], T + 1)).get('a')).toMatchObject({ until: T + 5000, reason: 'retry_after' });
    expect(store.resting(T + 1)).toEqual([{ key: 'a', ms: 4999, reason: 'retry_after' }]);
    expect(store.resting(T + 5000)).toEqual([]);
    await store.success('a');
    expect((await store.read(['a'], T + 1)).size).toBe(0);
  });
});
