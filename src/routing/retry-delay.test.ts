import { describe, expect, it } from 'vitest';
import { backoffMs, retryDelayMs } from './retry-delay';

const policy = { backoffBaseMs: 100, backoffMaxMs: 1000 };

describe('backoffMs: exponential, capped, full jitter', () => {
  const cases: [retryIndex: number, random: number, expected: number][] = [
    [0, 0, 0],
    [0, 0.5, 50],
    [0, 0.999, 99],
    [1, 0.5, 100],
    [2, 0.5, 200],
    [3, 0.5, 400],
    [4, 0.5, 500], // ceiling 1600 → capped at 1000
    [50, 0.999, 999], // no overflow far out
  ];
  it.each(cases)('retry %i, random %d → %i ms', (retryIndex, random, expected) => {
    expect(backoffMs(retryIndex, policy, () => random)).toBe(expected);
  });
});

describe('retryDelayMs', () => {
  const cases: [name: string, input: Partial<Parameters<typeof retryDelayMs>[0]>, expected: number][] = [
    ['another deployment: at once', { sameDeployment: false, retryAfterMs: 7000 }, 0],
    ['another deployment that rests (all do): its rest', { sameDeployment: false, coolingMs: 1200 }, 1200],
    ['same deployment: the backoff', { sameDeployment: true }, 50],
    ['same deployment, retry-after longer than the backoff: retry-after', { sameDeployment: true, retryAfterMs: 2000 }, 2000],
    ['same deployment, retry-after shorter than the backoff: the backoff', { sameDeployment: true, retryAfterMs: 10, retryIndex: 3 }, 400],
    ['same deployment resting longer: the rest', { sameDeployment: true, retryAfterMs: 10, coolingMs: 3000 }, 3000],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(retryDelayMs({ retryIndex: 0, sameDeployment: true, policy, random: () => 0.5, ...input })).toBe(expected);
  });
});
