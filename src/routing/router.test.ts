import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../openai/errors';
import { upstreamHttpError, upstreamNetworkError } from '../providers/upstream-error';
import type { TargetResult } from './call-target';
import type { Deployment, Route, Target } from './catalog';
import { IsolateCooldownStore } from './cooldown';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy';
import { abortableSleep, routeRequest, type RouterDeps } from './router';

// The IO loop with everything injected: a scripted call per attempt, a fake clock
// whose sleeps are recorded (no real waiting), a fixed random (0.25: the first of two equal weights).

const dep = (label: string, tier = 0, weight = 1): Deployment => ({
  label,
  key: `key:${label}`,
  weight,
  tier,
  target: { name: 'alias', provider: 'azure', model: label, options: {} },
});
const route = (...deployments: Deployment[]): Route => ({ name: 'alias', deployments, policy: {} });
const policy = (over: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, backoffBaseMs: 100, backoffMaxMs: 1000, ...over });

type Outcome = GatewayError | 'ok' | ((signal: AbortSignal) => Promise<TargetResult>);
const ok = (label: string): TargetResult => ({ result: { stream: false, body: `answer from ${label}` }, notes: { dropped: [], adapted: [] } });

function harness(script: Record<string, Outcome[]>, store = new IsolateCooldownStore()) {
  let now = 1_000_000;
  const calls: string[] = [];
  const sleeps: number[] = [];
  const deps: RouterDeps = {
    async call(target: Target, signal: AbortSignal) {
      calls.push(target.model);
      const next = script[target.model]?.shift() ?? 'ok';
      if (next === 'ok') return ok(target.model);
      if (typeof next === 'function') return next(signal);
      throw next;
    },
    cooldowns: store,
    random: () => 0.25,
    now: () => now,
    async sleep(ms, signal) {
      if (signal.aborted) throw signal.reason;
      sleeps.push(ms);
      now += ms;
    },
  };
  return { deps, calls, sleeps, store, advance: (ms: number) => (now += ms), now: () => now };
}

const rateLimited = (s?: number) => upstreamHttpError('Azure OpenAI', 429, 'slow down', s);
const overloaded = () => upstreamHttpError('Anthropic', 529, 'Overloaded');
const refused = () => upstreamNetworkError('Azure OpenAI', new TypeError('connection refused'));
const never = (signal: AbortSignal) => new Promise<TargetResult>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));

describe('routeRequest', () => {
  it('returns the first success with the deployment and one attempt', async () => {
    const h = harness({});
    const r = await routeRequest(route(dep('a')), policy(), false, new AbortController().signal, h.deps);
    expect(r.deployment.label).toBe('a');
    expect(r.attempts).toEqual([{ deployment: 'a', outcome: 'ok' }]);
    expect(h.sleeps).toEqual([]);
  });

  it('429 with retry-after on the only deployment: waits that long, then succeeds', async () => {
    const h = harness({ a: [rateLimited(2)] });
    const r = await routeRequest(route(dep('a')), policy(), false, new AbortController().signal, h.deps);
    expect(h.calls).toEqual(['a', 'a']);
    expect(h.sleeps).toEqual([2000]);
    expect(r.attempts.map((a) => a.outcome)).toEqual(['429 rate_limit_exceeded', 'ok']);
  });

  it('429 with retry-after-ms 1200: waits exactly 1200 ms, not the 2 s its retry-after header rounds to', async () => {
    const h = harness({ a: [rateLimited(1.2)] });
    await routeRequest(route(dep('a')), policy(), false, new AbortController().signal, h.deps);
    expect(rateLimited(1.2).headers['retry-after']).toBe('2');
    expect(h.sleeps).toEqual([1200]);
  });

  it('a 529 storm: backs off exponentially (full jitter at 0.25) until it passes', async () => {
    const h = harness({ a: [overloaded(), overloaded(), overloaded()] });
    await routeRequest(route(dep('a')), policy({ attemptsPerDeployment: 10 }), false, new AbortController().signal, h.deps);
    expect(h.calls).toHaveLength(4);
    expect(h.sleeps).toEqual([25, 50, 100]);
  });

  it('falls back to a sibling at once, then to the next tier when the first tier keeps failing', async () => {
    const h = harness({ a: [refused(), refused()], b: [refused(), refused()] });
    const r = await routeRequest(route(dep('a'), dep('b'), dep('c', 1)), policy(), false, new AbortController().signal, h.deps);
    // a fails → sibling b at once → a again (backoff) → b again (at once: another deployment) → tier 1
    expect(h.calls).toEqual(['a', 'b', 'a', 'b', 'c']);
    expect(r.deployment.label).toBe('c');
    expect(h.sleeps.length).toBeLessThanOrEqual(2);
  });

  it('never retries a client error, nor falls back', async () => {
    const h = harness({ a: [upstreamHttpError('Azure OpenAI', 400, 'bad param')] });
    const error = await routeRequest(route(dep('a'), dep('b')), policy(), false, new AbortController().signal, h.deps).catch((e) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.status).toBe(400);
    expect(error.headers).toMatchObject({ 'x-switchboard-attempts': '1', 'x-switchboard-deployment': 'a' });
    expect(h.calls).toEqual(['a']);
  });

  it('rejected credentials: the next deployment, never the same one again', async () => {
    const h = harness({ a: [upstreamHttpError('Azure OpenAI', 401, 'denied')] });
    const r = await routeRequest(route(dep('a'), dep('b', 1)), policy(), false, new AbortController().signal, h.deps);
    expect(h.calls).toEqual(['a', 'b']);
    expect(r.deployment.label).toBe('b');
  });

  it('one deployment: retried up to `retries`, attempts_per_deployment only limits fallbacks', async () => {
    const h = harness({ a: [refused(), refused(), refused()] });
    const r = await routeRequest(route(dep('a')), policy({ retries: 3, attemptsPerDeployment: 1 }), false, new AbortController().signal, h.deps);
    expect(h.calls).toEqual(['a', 'a', 'a', 'a']);
    expect(r.attempts.at(-1)).toEqual({ deployment: 'a', outcome: 'ok' });
  });

  it('retries exhausted: the last error, with the attempt count', async () => {
    const h = harness({ a: [refused(), refused(), refused()] });
    const error = await routeRequest(route(dep('a')), policy({ retries: 2, attemptsPerDeployment: 5 }), false, new AbortController().signal, h.deps).catch((e) => e);
    expect(error.code).toBe('upstream_unreachable');
    expect(error.headers['x-switchboard-attempts']).toBe('3');
    expect(h.calls).toHaveLength(3);
  });

  it('no fallback: stays on the first deployment chosen', async () => {
    const h = harness({ a: [refused(), refused(), refused()] });
    const error = await routeRequest(route(dep('a'), dep('b')), policy({ fallback: false, retries: 2 }), false, new AbortController().signal, h.deps).catch((e) => e);
    expect(h.calls).toEqual(['a', 'a', 'a']);
    expect(error.status).toBe(502);
  });

  it('a retry-after longer than the budget is not waited for: the 429 goes to the client with it', async () => {
    const h = harness({ a: [rateLimited(300)] });
    const error = await routeRequest(route(dep('a')), policy({ budgetMs: 10_000 }), false, new AbortController().signal, h.deps).catch((e) => e);
    expect(error.status).toBe(429);
    expect(error.headers['retry-after']).toBe('300');
    expect(h.sleeps).toEqual([]);
  });

  it('a response slower than the timeout is abandoned (its call aborted) and becomes 504 when nothing is left', async () => {
    let aborted = 0;
    const slow = (signal: AbortSignal) => {
      signal.addEventListener('abort', () => aborted++);
      return never(signal);
    };
    const h = harness({ a: [slow, slow] });
    const error = await routeRequest(route(dep('a')), policy({ responseTimeoutMs: 5, retries: 1 }), false, new AbortController().signal, h.deps).catch((e) => e);
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    expect(aborted).toBe(2);
  });

  it('a stream with no first byte in time → the next deployment', async () => {
    const silent = async (): Promise<TargetResult> => ({ result: { stream: true, body: new ReadableStream({}) }, notes: { dropped: [], adapted: [] } });
    const talking = async (): Promise<TargetResult> => ({
      result: { stream: true, body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('data: {}\n\n')), c.close()) }) },
      notes: { dropped: [], adapted: [] },
    });
    const h = harness({ slow: [silent], fast: [talking] });
    const r = await routeRequest(route(dep('slow'), dep('fast', 1)), policy({ firstByteTimeoutMs: 5, attemptsPerDeployment: 1 }), true, new AbortController().signal, h.deps);
    expect(r.deployment.label).toBe('fast');
    expect(r.attempts.map((a) => a.outcome)).toEqual(['504 upstream_timeout', 'ok']);
    expect(r.result.stream && (await new Response(r.result.body).text())).toBe('data: {}\n\n');
  });

  it('hands on a stream the provider already started without peeking at it (no tee, the same stream)', async () => {
    const body = new ReadableStream<Uint8Array>({});
    const started = async (): Promise<TargetResult> => ({ result: { stream: true, body, started: true }, notes: { dropped: [], adapted: [] } });
    const h = harness({ a: [started] });
    const r = await routeRequest(route(dep('a')), policy({ firstByteTimeoutMs: 5 }), true, new AbortController().signal, h.deps);
    expect(r.result.stream && r.result.body).toBe(body);
  });

  it('shares cooldowns across requests: a rate-limited deployment is skipped by the next request', async () => {
    const store = new IsolateCooldownStore();
    const first = harness({ a: [rateLimited(30)] }, store);
    await routeRequest(route(dep('a'), dep('b', 1)), policy(), false, new AbortController().signal, first.deps);
    expect(first.calls).toEqual(['a', 'b']);
    const second = harness({}, store);
    await routeRequest(route(dep('a'), dep('b', 1)), policy(), false, new AbortController().signal, second.deps);
    expect(second.calls).toEqual(['b']);
  });

  it('every deployment resting on retry-after: a new request waits for the first ready, within its budget', async () => {
    const store = new IsolateCooldownStore();
    await routeRequest(route(dep('a')), policy({ retries: 0 }), false, new AbortController().signal, harness({ a: [rateLimited(3)] }, store).deps).catch(() => {});
    const next = harness({}, store);
    await routeRequest(route(dep('a')), policy(), false, new AbortController().signal, next.deps);
    expect(next.sleeps).toEqual([3000]);
    expect(next.calls).toEqual(['a']);
  });

  it('…but not past the budget (429 with retry-after), nor when the request allows no retries (asked at once)', async () => {
    const store = new IsolateCooldownStore();
    await routeRequest(route(dep('a')), policy({ retries: 0 }), false, new AbortController().signal, harness({ a: [rateLimited(30)] }, store).deps).catch(() => {});
    const tooLong = harness({}, store);
    const error = await routeRequest(route(dep('a')), policy({ budgetMs: 5000 }), false, new AbortController().signal, tooLong.deps).catch((e) => e);
    expect({ status: error.status, retryAfter: error.headers['retry-after'], calls: tooLong.calls }).toEqual({ status: 429, retryAfter: '30', calls: [] });
    const noRetries = harness({}, store);
    await routeRequest(route(dep('a')), policy({ retries: 0 }), false, new AbortController().signal, noRetries.deps);
    expect({ sleeps: noRetries.sleeps, calls: noRetries.calls }).toEqual({ sleeps: [], calls: ['a'] });
  });

  it('a client that leaves ends the backoff and stops: no further attempt', async () => {
    const client = new AbortController();
    const h = harness({ a: [refused()] });
    h.deps.sleep = (_ms, signal) => new Promise((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason));
      client.abort();
    });
    const error = await routeRequest(route(dep('a')), policy({ attemptsPerDeployment: 5 }), false, client.signal, h.deps).catch((e) => e);
    expect(error.code).toBe('client_closed_request');
    expect(h.calls).toEqual(['a']);
  });
});

// The sleep the Worker uses for backoffs: a client that leaves must not keep a retry pending.
describe('abortableSleep', () => {
  afterEach(() => vi.useRealTimers());

  it('resolves after its time, and not before', async () => {
    vi.useFakeTimers();
    let done = false;
    const sleeping = abortableSleep(1000, new AbortController().signal).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('rejects as soon as the signal aborts, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const client = new AbortController();
    const sleeping = abortableSleep(30_000, client.signal);
    await vi.advanceTimersByTimeAsync(10);
    client.abort(new Error('client gone'));
    await expect(sleeping).rejects.toThrow('client gone');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once when the signal has already aborted', async () => {
    const client = new AbortController();
    client.abort(new Error('gone before'));
    await expect(abortableSleep(30_000, client.signal)).rejects.toThrow('gone before');
  });
});
