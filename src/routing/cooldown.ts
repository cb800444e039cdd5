import type { RetryPolicy } from './retry-policy';

/** A deployment's recent trouble, shared across requests. */
export interface Health {
  /** Times of recent failures, within the policy's window. */
  failures: number[];
  /** Rests (is skipped while others are ready) until this time; 0 when not resting. */
  until: number;
  /** Why it rests: it asked to (retry-after), or it failed too often. */
  reason?: 'retry_after' | 'failures';
}

type CooldownPolicy = Pick<RetryPolicy, 'cooldownFailures' | 'cooldownWindowMs' | 'cooldownMs'>;

/**
 * The health after a failure: a retry-after makes it rest that long; N failures within
 * the window make it rest for the policy's cooldown.
 */
export function afterFailure(health: Health | undefined, now: number, policy: CooldownPolicy, retryAfterMs?: number): Health {
  const failures = [...(health?.failures ?? []).filter((t) => now - t < policy.cooldownWindowMs), now];
  let until = health && health.until > now ? health.until : 0;
  let reason = until ? health?.reason : undefined;
  if (retryAfterMs !== undefined && retryAfterMs > 0 && now + retryAfterMs > until) {
    until = now + retryAfterMs;
    reason = 'retry_after';
  }
  if (failures.length >= policy.cooldownFailures && now + policy.cooldownMs > until) {
    until = now + policy.cooldownMs;
    reason = 'failures';
    // A new count starts after the rest: one more failure then does not re-trip it at once.
    failures.length = 0;
  }
  return reason ? { failures, until, reason } : { failures, until: 0 };
}

/**
 * Where deployment health lives. This implementation is per isolate (each Worker
 * isolate learns on its own); a Durable Object behind the same interface would share
 * it across isolates. Async so that one can replace it without touching the router.
 */
export interface CooldownStore {
  read(keys: readonly string[], now: number): Promise<Map<string, Health>>;
  failure(key: string, now: number, policy: CooldownPolicy, retryAfterMs?: number): Promise<void>;
  success(key: string): Promise<void>;
}

const MAX_TRACKED = 1000;

export class IsolateCooldownStore implements CooldownStore {
  private readonly health = new Map<string, Health>();

  async read(keys: readonly string[], now: number): Promise<Map<string, Health>> {
    const out = new Map<string, Health>();
    for (const key of keys) {
      const h = this.health.get(key);
      if (h && (h.until > now || h.failures.length > 0)) out.set(key, h);
    }
    return out;
  }

  async failure(key: string, now: number, policy: CooldownPolicy, retryAfterMs?: number): Promise<void> {
    if (!this.health.has(key) && this.health.size >= MAX_TRACKED) this.health.clear();
    this.health.set(key, afterFailure(this.health.get(key), now, policy, retryAfterMs));
  }

  async success(key: string): Promise<void> {
    this.health.delete(key);
  }

  /** Takes what another isolate learned, when it says the deployment rests longer than this one knows. */
  merge(key: string, health: Health): void {
    const mine = this.health.get(key);
    if (!mine || health.until > mine.until) this.health.set(key, health);
  }

  has(key: string): boolean {
    return this.health.has(key);
  }

  /** Every deployment with recent trouble (for sharing, and for an admin view). */
  entries(): [string, Health][] {
    return [...this.health];
  }

  /** For GET /v1/models or an admin view: every deployment resting now. */
  resting(now: number): { key: string; ms: number; reason: Health['reason'] }[] {
    return [...this.health].filter(([, h]) => h.until > now).map(([key, h]) => ({ key, ms: h.until - now, reason: h.reason }));
  }
}
