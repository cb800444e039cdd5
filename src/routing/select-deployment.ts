import type { Deployment } from './catalog';
import type { Health } from './cooldown';

export interface Selection {
  deployment: Deployment;
  /** How long it still rests (its retry-after); 0 when it is ready. */
  coolingMs: number;
}

/**
 * Picks the deployment for the next attempt:
 * - only those not given up on for this request (`excluded`), and only `pinned` when set;
 * - of those ready (not cooling down), the lowest tier, and within it those this request
 *   has failed on least (a retry goes to a sibling first), weighted at random;
 * - if all are cooling down: one resting only because of failure counts is probed at once
 *   (half-open), else the one whose retry-after ends first, with that wait.
 * Undefined when nothing is left.
 */
export function selectDeployment(input: {
  deployments: readonly Deployment[];
  excluded: ReadonlySet<string>;
  failures: ReadonlyMap<string, number>;
  health: ReadonlyMap<string, Health>;
  now: number;
  random: () => number;
  pinned?: string;
}): Selection | undefined {
  const candidates = input.deployments.filter((d) => !input.excluded.has(d.label) && (input.pinned === undefined || d.label === input.pinned));
  if (candidates.length === 0) return undefined;
  const restsUntil = (d: Deployment) => input.health.get(d.key)?.until ?? 0;
  const ready = candidates.filter((d) => restsUntil(d) <= input.now);
  if (ready.length > 0) return { deployment: pick(ready, input.failures, input.random), coolingMs: 0 };
  const probes = candidates.filter((d) => input.health.get(d.key)?.reason !== 'retry_after');
  if (probes.length > 0) return { deployment: pick(probes, input.failures, input.random), coolingMs: 0 };
  const soonest = candidates.reduce((a, b) => (restsUntil(b) < restsUntil(a) ? b : a));
  return { deployment: soonest, coolingMs: restsUntil(soonest) - input.now };
}

function pick(pool: Deployment[], failures: ReadonlyMap<string, number>, random: () => number): Deployment {
  const tier = Math.min(...pool.map((d) => d.tier));
  const inTier = pool.filter((d) => d.tier === tier);
  const fewest = Math.min(...inTier.map((d) => failures.get(d.label) ?? 0));
  return weighted(inTier.filter((d) => (failures.get(d.label) ?? 0) === fewest), random);
}

export function weighted<T extends { weight: number }>(items: T[], random: () => number): T {
  const total = items.reduce((sum, d) => sum + d.weight, 0);
  let r = random() * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return items[items.length - 1];
}
