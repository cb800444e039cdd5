import { afterFailure, IsolateCooldownStore, type CooldownStore, type Health } from './cooldown';
import type { RetryPolicy } from './retry-policy';

// Deployment health shared by every isolate of the gateway: one Durable Object holds it.
// The request path never waits for it: each isolate keeps its own copy (the
// IsolateCooldownStore), reports failures and recoveries to the object in the
// background, and pulls what the others learned at most once a second, also in the
// background. A rate limit seen by one isolate is known to all within about a second.

type CooldownPolicy = Pick<RetryPolicy, 'cooldownFailures' | 'cooldownWindowMs' | 'cooldownMs'>;

export interface HealthReport {
  key: string;
  kind: 'failure' | 'success';
  at: number;
  retryAfterMs?: number;
  policy?: CooldownPolicy;
}

const MAX_TRACKED = 1000;

/** The Durable Object (binding DEPLOYMENT_HEALTH, one instance by name). Its state is short-lived by nature: kept in memory. */
export class DeploymentHealth implements DurableObject {
  private readonly health = new Map<string, Health>();

  async fetch(request: Request): Promise<Response> {
    const now = Date.now();
    if (request.method === 'POST') {
      const reports = (await request.json()) as HealthReport[];
      for (const r of Array.isArray(reports) ? reports : []) this.apply(r);
    }
    // Only what still matters: resting, or failures within a window.
    const live = [...this.health].filter(([, h]) => h.until > now || h.failures.length > 0);
    return Response.json(live);
  }

  private apply(r: HealthReport) {
    if (typeof r?.key !== 'string') return;
    if (r.kind === 'success') {
      this.health.delete(r.key);
      return;
    }
    if (!r.policy) return;
    if (!this.health.has(r.key) && this.health.size >= MAX_TRACKED) this.health.clear();
    this.health.set(r.key, afterFailure(this.health.get(r.key), r.at, r.policy, r.retryAfterMs));
  }
}

const SYNC_INTERVAL_MS = 1000;
const OBJECT_NAME = 'deployment-health';

/** Per isolate: when it last pulled, so that one pull a second is the most it makes. */
const syncState = new WeakMap<IsolateCooldownStore, { last: number; inFlight: boolean }>();

/** A CooldownStore over the isolate's copy, shared through the DeploymentHealth object. */
export class SharedCooldownStore implements CooldownStore {
  constructor(
    private readonly local: IsolateCooldownStore,
    private readonly namespace: DurableObjectNamespace,
    /** Keeps background calls alive after the response (ExecutionContext.waitUntil). */
    private readonly waitUntil: (promise: Promise<unknown>) => void,
  ) {}

  async read(keys: readonly string[], now: number): Promise<Map<string, Health>> {
    let sync = syncState.get(this.local);
    if (!sync) syncState.set(this.local, (sync = { last: 0, inFlight: false }));
    if (!sync.inFlight && now - sync.last >= SYNC_INTERVAL_MS) {
      sync.inFlight = true;
      sync.last = now;
      const state = sync;
      this.waitUntil(this.send([]).finally(() => (state.inFlight = false)));
    }
    return this.local.read(keys, now);
  }

  async failure(key: string, now: number, policy: CooldownPolicy, retryAfterMs?: number): Promise<void> {
    await this.local.failure(key, now, policy, retryAfterMs);
    this.waitUntil(this.send([{ key, kind: 'failure', at: now, retryAfterMs, policy }]));
  }

  async success(key: string): Promise<void> {
    // The common case, a deployment with no trouble, costs nothing.
    if (!this.local.has(key)) return;
    await this.local.success(key);
    this.waitUntil(this.send([{ key, kind: 'success', at: Date.now() }]));
  }

  /** Reports (possibly none) and merges what comes back; a failing object only means no sharing. */
  private async send(reports: HealthReport[]): Promise<void> {
    try {
      const stub = this.namespace.get(this.namespace.idFromName(OBJECT_NAME));
      const response = await stub.fetch('https://deployment-health/', { method: 'POST', body: JSON.stringify(reports) });
      const entries = (await response.json()) as [string, Health][];
      for (const [key, health] of entries) this.local.merge(key, health);
    } catch {
      // Health sharing is an optimisation: the isolate's own copy still works.
    }
  }
}
