import { describe, expect, it } from 'vitest';
import { NO_LIMITS, type KeyLimits } from './admin-requests';
import { admit, formatDuration, LEASE_MAX_MS, monthOf, newLimitState, nextMonthStart, release, type LimitState } from './limit-state';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const limits = (l: Partial<KeyLimits>): KeyLimits => ({ ...NO_LIMITS, ...l });
const fresh = () => newLimitState(monthOf(T0));

function admitted(state: LimitState, l: KeyLimits, n: number, now: number, prefix = 'l'): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (admit(state, l, `${prefix}${i}`, now).ok) ok++;
  return ok;
}

describe('formatDuration (OpenAI x-ratelimit-reset-* format)', () => {
  const cases: [ms: number, expected: string][] = [
    [0, '0ms'],
    [-5, '0ms'],
    [12.2, '13ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [61_500, '1m2s'],
  ];
  it.each(cases)('%d ms → %s', (ms, expected) => expect(formatDuration(ms)).toBe(expected));
});

describe('months', () => {
  const cases: [at: string, month: string, next: string][] = [
    ['2026-11-26T12:00:00Z', '2026-11', '2026-12-01T00:00:00.000Z'],
    ['2026-12-31T23:59:59Z', '2026-12', '2027-01-01T00:00:00.000Z'],
    ['2027-01-01T00:00:00Z', '2027-01', '2027-02-01T00:00:00.000Z'],
  ];
  it.each(cases)('%s is in %s; the next starts %s', (at, month, next) => {
    expect(monthOf(Date.parse(at))).toBe(month);
    expect(new Date(nextMonthStart(Date.parse(at))).toISOString()).toBe(next);
  });
});

describe('admit: requests per minute', () => {
  it('admits exactly rpm in a burst, then refuses with the wait until a slot frees', () => {
    const state = fresh();
    expect(admitted(state, limits({ rpm: 50 }), 200, T0)).toBe(50);
    const refused = admit(state, limits({ rpm: 50 }), 'x', T0 + 10_000);
    expect(refused).toMatchObject({
      ok: false,
      refusal: { type: 'requests', code: 'rate_limit_exceeded', retryAfterMs: 50_000 },
      headers: { 'x-ratelimit-limit-requests': '50', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '50s' },
    });
    expect(!refused.ok && refused.refusal.message).toContain('requests per min (RPM): Limit 50, Used 50');
  });

  it('the window slides: a slot frees 60 s after each admission', () => {
    const state = fresh();
    const l = limits({ rpm: 2 });
    expect(admit(state, l, 'a', T0).ok).toBe(true);
    expect(admit(state, l, 'b', T0 + 30_000).ok).toBe(true);
    expect(admit(state, l, 'c', T0 + 59_999).ok).toBe(false);
    expect(admit(state, l, 'd', T0 + 60_000).ok).toBe(true);
    expect(admit(state, l, 'e', T0 + 60_001).ok).toBe(false);
    expect(admit(state, l, 'f', T0 + 90_000).ok).toBe(true);
  });

  it('success headers say what is left', () => {
    const state = fresh();
    const first = admit(state, limits({ rpm: 3 }), 'a', T0);
    expect(first).toEqual({ ok: true, headers: { 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '2', 'x-ratelimit-reset-requests': '1m0s' } });
  });

  it('a limit lowered between requests applies to the next one', () => {
    const state = fresh();
    expect(admitted(state, limits({ rpm: 10 }), 5, T0)).toBe(5);
    expect(admit(state, limits({ rpm: 5 }), 'x', T0).ok).toBe(false);
    expect(admit(state, limits({ rpm: 6 }), 'y', T0).ok).toBe(true);
    expect(admit(state, NO_LIMITS, 'z', T0)).toEqual({ ok: true, headers: {} });
  });
});

describe('admit: tokens per minute', () => {
  it('admits while under the limit; real usage counted at release refuses the next minute', () => {
    const state = fresh();
    const l = limits({ tpm: 1000 });
    expect(admit(state, l, 'a', T0).ok).toBe(true);
    release(state, 'a', 600, 0, T0 + 1000);
    const second = admit(state, l, 'b', T0 + 2000);
    expect(second).toMatchObject({ ok: true, headers: { 'x-ratelimit-remaining-tokens': '400', 'x-ratelimit-limit-tokens': '1000' } });
    release(state, 'b', 500, 0, T0 + 3000);
    const third = admit(state, l, 'c', T0 + 4000);
    // 1100 used; below 1000 once the first 600 leave the window (at T0 + 61 s).
    expect(third).toMatchObject({ ok: false, refusal: { type: 'tokens', code: 'rate_limit_exceeded', retryAfterMs: 57_000 }, headers: { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '57s' } });
    expect(admit(state, l, 'd', T0 + 61_000).ok).toBe(true);
  });
});

describe('admit: concurrency', () => {
  it('holds a slot per lease until released; releasing twice frees one slot', () => {
    const state = fresh();
    const l = limits({ max_concurrent: 2 });
    expect(admitted(state, l, 5, T0)).toBe(2);
    expect(admit(state, l, 'x', T0)).toMatchObject({ ok: false, refusal: { type: 'requests', code: 'concurrency_limit_exceeded', retryAfterMs: 1000 } });
    expect(release(state, 'l0', 0, 0, T0)).toBe(true);
    expect(release(state, 'l0', 0, 0, T0)).toBe(false);
    expect(admit(state, l, 'y', T0).ok).toBe(true);
    expect(admit(state, l, 'z', T0).ok).toBe(false);
  });

  it('a lease never released stops holding its slot after LEASE_MAX_MS', () => {
    const state = fresh();
    const l = limits({ max_concurrent: 1 });
    expect(admit(state, l, 'lost', T0).ok).toBe(true);
    expect(admit(state, l, 'b', T0 + LEASE_MAX_MS - 1).ok).toBe(false);
    expect(admit(state, l, 'c', T0 + LEASE_MAX_MS).ok).toBe(true);
  });
});

describe('admit: monthly budget', () => {
  it('refuses once spent reaches the budget, until the next month', () => {
    const state = fresh();
    const l = limits({ budget_usd: 1 });
    expect(admit(state, l, 'a', T0).ok).toBe(true);
    release(state, 'a', 10, 0.6, T0);
    expect(admit(state, l, 'b', T0).ok).toBe(true);
    release(state, 'b', 10, 0.4, T0);
    const refused = admit(state, l, 'c', T0);
    expect(refused).toMatchObject({ ok: false, refusal: { type: 'insufficient_quota', code: 'budget_exceeded', retryAfterMs: nextMonthStart(T0) - T0 } });
    expect(!refused.ok && refused.refusal.message).toContain('monthly budget of $1 is spent');
    // A raised budget applies at once; a new month starts from zero.
    expect(admit(state, limits({ budget_usd: 2 }), 'd', T0).ok).toBe(true);
    expect(admit(state, l, 'e', nextMonthStart(T0)).ok).toBe(true);
    expect(state.spentUsd).toBe(0);
  });

  it('a zero budget refuses everything; the budget is checked before the other limits', () => {
    const state = fresh();
    expect(admit(state, limits({ budget_usd: 0, rpm: 5 }), 'a', T0)).toMatchObject({ ok: false, refusal: { code: 'budget_exceeded' } });
  });
});
