import type { RetryPolicy } from './retry-policy';

/**
 * Exponential backoff with full jitter: a uniformly random wait in
 * [0, min(max, base · 2^retryIndex)), so a burst of clients that failed together does
 * not come back together. `retryIndex` is 0 for the first retry.
 */
export function backoffMs(retryIndex: number, policy: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs'>, random: () => number): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(retryIndex, 30));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before the next attempt. Another deployment is tried at once: the last one's
 * trouble is its own. The same deployment again waits for the backoff, and at least as
 * long as it asked (retry-after) or is resting (cooldown).
 */
export function retryDelayMs(input: {
  retryIndex: number;
  sameDeployment: boolean;
  /** What the last failure of this deployment asked for. */
  retryAfterMs?: number;
  /** How long the chosen deployment still rests. */
  coolingMs?: number;
  policy: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs'>;
  random: () => number;
}): number {
  const resting = input.coolingMs ?? 0;
  if (!input.sameDeployment) return resting;
  return Math.max(backoffMs(input.retryIndex, input.policy, input.random), input.retryAfterMs ?? 0, resting);
}
