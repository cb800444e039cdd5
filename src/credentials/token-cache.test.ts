import { describe, expect, it } from 'vitest';
import { REFRESH_MARGIN_MS, TokenCache, type AccessToken } from './token-cache';

const HOUR = 3_600_000;

/** A token source that counts its calls and answers with token-1, token-2, … valid for `lifetimeMs`. */
function source(clock: { now: number }, lifetimeMs = HOUR) {
  const calls = { count: 0, fail: false };
  const fetchToken = async (): Promise<AccessToken> => {
    calls.count++;
    await Promise.resolve();
    if (calls.fail) throw new Error('token endpoint down');
    return { token: `token-${calls.count}`, expiresAt: clock.now + lifetimeMs };
  };
  return { calls, fetchToken };
}

describe('TokenCache', () => {
  it('asks once, then serves the cached token until the refresh margin', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(() => clock.now);
    const { calls, fetchToken } = source(clock);
    expect((await cache.get('sp', fetchToken)).token).toBe('token-1');
    clock.now = HOUR - REFRESH_MARGIN_MS - 1;
    expect((await cache.get('sp', fetchToken)).token).toBe('token-1');
    expect(calls.count).toBe(1);
    clock.now = HOUR - REFRESH_MARGIN_MS;
    expect((await cache.get('sp', fetchToken)).token).toBe('token-2');
    expect(calls.count).toBe(2);
  });

  it('shares one token request between concurrent callers', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(() => clock.now);
    const { calls, fetchToken } = source(clock);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => cache.get('sp', fetchToken)));
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(['token-1']));
    expect(calls.count).toBe(1);
  });

  it('keeps one cache entry per credential', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(() => clock.now);
    const a = source(clock);
    const b = source(clock);
    await cache.get('a', a.fetchToken);
    await cache.get('b', b.fetchToken);
    await cache.get('a', a.fetchToken);
    expect([a.calls.count, b.calls.count]).toEqual([1, 1]);
  });

  it('keeps serving a still-valid token when its refresh fails, and retries the refresh next time', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(() => clock.now);
    const { calls, fetchToken } = source(clock);
    await cache.get('sp', fetchToken);
    clock.now = HOUR - 60_000; // inside the margin, not expired
    calls.fail = true;
    expect((await cache.get('sp', fetchToken)).token).toBe('token-1');
    calls.fail = false;
    expect((await cache.get('sp', fetchToken)).token).toBe('token-3');
  });

  it('with keepOnFailure: false, a failed refresh fails even while the old token is valid', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(() => clock.now);
    const { calls, fetchToken } = source(clock);
    await cache.get('sp', fetchToken, { keepOnFailure: false });
    clock.now = HOUR - 60_000;
    calls.fail = true;
    await expect(cache.get('sp', fetchToken, { keepOnFailure: false })).rejects.toThrow('token endpoint down');
  });

  it('fails when the refresh fails and the token has expired', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(() => clock.now);
    const { calls, fetchToken } = source(clock);
    await cache.get('sp', fetchToken);
    clock.now = HOUR;
    calls.fail = true;
    await expect(cache.get('sp', fetchToken)).rejects.toThrow('token endpoint down');
  });

  it('a token issued with less life than the margin is used once and replaced on the next call', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(() => clock.now);
    const { calls, fetchToken } = source(clock, REFRESH_MARGIN_MS - 1000);
    expect((await cache.get('sp', fetchToken)).token).toBe('token-1');
    expect((await cache.get('sp', fetchToken)).token).toBe('token-2');
    expect(calls.count).toBe(2);
  });
});
