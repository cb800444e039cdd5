import { describe, expect, it } from 'vitest';
import { IsolateCooldownStore } from './cooldown';
import { DeploymentHealth, SharedCooldownStore } from './deployment-health';

// Two isolates (two IsolateCooldownStores) sharing one DeploymentHealth object through
// a namespace stand-in that calls the object's fetch directly.

const policy = { cooldownFailures: 3, cooldownWindowMs: 60_000, cooldownMs: 30_000 };

function namespaceOf(object: DeploymentHealth) {
  let calls = 0;
  const namespace = {
    idFromName: (name: string) => name,
    get: () => ({ fetch: (url: string, init: RequestInit) => (calls++, object.fetch(new Request(url, init))) }),
  } as unknown as DurableObjectNamespace;
  return { namespace, calls: () => calls };
}

describe('SharedCooldownStore', () => {
  it('a rate limit seen by one isolate is known to another after its next pull', async () => {
    const object = new DeploymentHealth();
    const { namespace, calls } = namespaceOf(object);
    const pending: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => void pending.push(p);
    const isolateA = new SharedCooldownStore(new IsolateCooldownStore(), namespace, waitUntil);
    const isolateB = new SharedCooldownStore(new IsolateCooldownStore(), namespace, waitUntil);
    const now = Date.now();

    await isolateA.failure('azure/gpt-4o|east|', now, policy, 30_000);
    await Promise.all(pending);
    // B's first read answers from its own (empty) copy at once and pulls in the background.
    expect((await isolateB.read(['azure/gpt-4o|east|'], now)).size).toBe(0);
    await Promise.all(pending);
    expect((await isolateB.read(['azure/gpt-4o|east|'], now)).get('azure/gpt-4o|east|')).toMatchObject({ reason: 'retry_after', until: now + 30_000 });

    // At most one pull a second per isolate.
    const before = calls();
    await isolateB.read(['x'], now + 10);
    await Promise.all(pending);
    expect(calls()).toBe(before);

    // A success clears it everywhere.
    await isolateA.success('azure/gpt-4o|east|');
    await Promise.all(pending);
    const snapshot = await (await object.fetch(new Request('https://deployment-health/', { method: 'POST', body: '[]' }))).json();
    expect(snapshot).toEqual([]);
  });

  it('a success on a deployment with no trouble costs no call', async () => {
    const { namespace, calls } = namespaceOf(new DeploymentHealth());
    const store = new SharedCooldownStore(new IsolateCooldownStore(), namespace, () => {});
    await store.success('never-failed');
    expect(calls()).toBe(0);
  });

  it('an unreachable object only means no sharing', async () => {
    const broken = { idFromName: () => 'x', get: () => ({ fetch: () => Promise.reject(new Error('down')) }) } as unknown as DurableObjectNamespace;
    const pending: Promise<unknown>[] = [];
    const store = new SharedCooldownStore(new IsolateCooldownStore(), broken, (p) => void pending.push(p));
    await store.failure('k', Date.now(), policy, 5000);
    await expect(Promise.all(pending)).resolves.toBeDefined();
    expect((await store.read(['k'], Date.now())).get('k')?.reason).toBe('retry_after');
  });
});
