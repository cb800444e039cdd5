import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse, assertModel, assertModelList, collectValidChunks } from '../helpers/schema';
import { OPENAI_TEST_KEY } from '../upstreams/openai';
import { startHeldOpenAIMock, type HeldOpenAIMock } from '../upstreams/openai-held';

// Per-key limits (rpm, tpm, max_concurrent, budget_usd), enforced by the key's Durable
// Object in the real Worker (workerd), with the admin API that sets them.

const ADMIN_TOKEN = 'switchboard-admin-test-token-limits-0123';
let mock: HeldOpenAIMock;
let gateway: Gateway;

async function call(path: string, init: { method?: string; token?: string; body?: unknown; signal?: AbortSignal } = {}) {
  const res = await fetch(`${gateway.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as any) : undefined };
}
const admin = (path: string, init: { method?: string; body?: unknown } = {}) => call(`/admin${path}`, { ...init, token: ADMIN_TOKEN });
const chat = (key: string, content = 'hi', model = 'gpt-4o') => call('/v1/chat/completions', { token: key, body: { model, messages: [{ role: 'user', content }] } });

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await admin('/keys', { body: { name: 'limited', ...body } });
  expect(res.status).toBe(201);
  return res.json;
}

/** What the key's Durable Object holds now (its /state, which no public route reaches). */
async function limiterState(id: string): Promise<{ in_flight: number; spent_usd: number; tokens_in_window: number } | null> {
  const ns = await gateway.mf.getDurableObjectNamespace('KEY_LIMITS');
  const res = await ns.get(ns.idFromName(id)).fetch('https://key-limiter/state');
  return (await res.json()) as any;
}

/** Releases happen in the background after a response ends: wait until the object has them. */
async function settled(id: string, check: (s: NonNullable<Awaited<ReturnType<typeof limiterState>>>) => boolean) {
  for (let i = 0; i < 200; i++) {
    const state = await limiterState(id);
    if (state && check(state)) return state;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the key's limiter never reached the expected state: ${JSON.stringify(await limiterState(id))}`);
}

/** Starts a stream the mock holds open, returning once its first chunk has arrived. */
async function openHeldStream(key: string) {
  const controller = new AbortController();
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hold' }] }),
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  await reader.read();
  return {
    abort: () => controller.abort(),
    rest: async () => {
      let text = '';
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    },
  };
}

function expectRateLimited(res: Awaited<ReturnType<typeof call>>, type: string, code: string) {
  expect(res.status).toBe(429);
  assertErrorResponse(res.json);
  expect(res.json.error).toMatchObject({ type, code, param: null });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

beforeAll(async () => {
  mock = await startHeldOpenAIMock();
  gateway = await startGateway({
    ADMIN_TOKEN,
    MODELS: JSON.stringify({ 'gpt-4o': { target: 'openai/gpt-4o' }, 'gpt-4o-mini': { target: 'openai/gpt-4o-mini' } }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${mock.url}/v1`,
  });
});

afterAll(async () => {
  mock?.release();
  await gateway?.close();
  await mock?.close();
});

beforeEach(() => mock.server.reset());

describe('requests per minute', () => {
  it('a burst of 200 parallel requests against rpm 50 admits exactly 50; the rest get 429 with retry-after and x-ratelimit-*', async () => {
    const { key } = await createKey({ rpm: 50 });
    const results = await Promise.all(Array.from({ length: 200 }, () => chat(key)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(50);
    expect(refused).toHaveLength(150);
    expect(mock.server.requests).toHaveLength(50);
    for (const r of ok) {
      assertChatCompletion(r.json);
      expect(r.headers.get('x-ratelimit-limit-requests')).toBe('50');
      expect(Number(r.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(50);
    }
    for (const r of refused) {
      expectRateLimited(r, 'requests', 'rate_limit_exceeded');
      expect(r.json.error.message).toContain('requests per min (RPM): Limit 50');
      expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(r.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|[\d.]+s|\d+m\d+s)$/);
      expect(r.headers.get('x-request-id')).toBeTruthy();
    }
    // The remaining counts handed out are all different: each admission saw the one before.
    expect(new Set(ok.map((r) => r.headers.get('x-ratelimit-remaining-requests'))).size).toBe(50);
  });

  it('the openai SDK sees a RateLimitError', async () => {
    const { key } = await createKey({ rpm: 1 });
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    assertChatCompletion(await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('a limit change applies to the very next request, and clearing every limit frees the key', async () => {
    const { id, key } = await createKey({ rpm: 1 });
    expect((await chat(key)).status).toBe(200);
    expectRateLimited(await chat(key), 'requests', 'rate_limit_exceeded');
    const patched = await admin(`/keys/${id}`, { method: 'PATCH', body: { rpm: 3 } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ object: 'gateway_key', id, rpm: 3, tpm: null });
    expect((await chat(key)).status).toBe(200);
    const cleared = await admin(`/keys/${id}`, { method: 'PATCH', body: { rpm: null } });
    expect(cleared.json.rpm).toBeNull();
    const free = await chat(key);
    expect(free.status).toBe(200);
    expect(free.headers.get('x-ratelimit-limit-requests')).toBeNull();
  });
});

describe('tokens per minute', () => {
  it("counts each response's real usage, streams included, and refuses once the minute's tokens are spent", async () => {
    const { id, key } = await createKey({ tpm: 40 });
    const first = await chat(key);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('40');
    await settled(id, (s) => s.tokens_in_window === 17 && s.in_flight === 0);
    // A stream (the client did not ask for usage): counted when it ends.
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    await collectValidChunks(await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    await settled(id, (s) => s.tokens_in_window === 34 && s.in_flight === 0);
    const third = await chat(key);
    expect(third.status).toBe(200);
    expect(third.headers.get('x-ratelimit-remaining-tokens')).toBe('6');
    await settled(id, (s) => s.tokens_in_window === 51);
    const refused = await chat(key);
    expectRateLimited(refused, 'tokens', 'rate_limit_exceeded');
    expect(refused.json.error.message).toContain('tokens per min (TPM): Limit 40, Used 51');
    expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
  });
});

describe('concurrent requests', () => {
  it('slow streams hold their slots; a finished stream frees its slot', async () => {
    const { id, key } = await createKey({ max_concurrent: 2 });
    const a = await openHeldStream(key);
    const b = await openHeldStream(key);
    const third = await chat(key);
    expectRateLimited(third, 'requests', 'concurrency_limit_exceeded');
    expect(third.json.error.message).toContain('concurrent requests: Limit 2');
    mock.release();
    expect(await a.rest()).toContain('data: [DONE]');
    expect(await b.rest()).toContain('data: [DONE]');
    await settled(id, (s) => s.in_flight === 0);
    expect((await chat(key)).status).toBe(200);
  });

  it('a client that aborts mid-stream releases its slot', async () => {
    const { id, key } = await createKey({ max_concurrent: 1 });
    const stream = await openHeldStream(key);
    expectRateLimited(await chat(key), 'requests', 'concurrency_limit_exceeded');
    stream.abort();
    // The runtime notices a client has gone at its next write to it: let the upstream go on.
    mock.release();
    await settled(id, (s) => s.in_flight === 0);
    expect((await chat(key)).status).toBe(200);
  });

  it('upstream errors release the slot: a 500 before the stream, and a connection dropped mid-stream', async () => {
    const { id, key } = await createKey({ max_concurrent: 1 });
    const failed = await chat(key, 'fail');
    expect(failed.status).toBeGreaterThanOrEqual(500);
    await settled(id, (s) => s.in_flight === 0);
    const dropped = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'die' }] }),
    });
    await dropped.text().catch(() => '');
    await settled(id, (s) => s.in_flight === 0);
    expect((await chat(key)).status).toBe(200);
  });
});

describe('monthly budget', () => {
  it('once spent, 429 insufficient_quota with a message that says the budget is spent; raising it lets requests through', async () => {
    // gpt-4o list price: 10 uncached × $2.50 + 2 cached × $1.25 + 5 out × $10 per million = $0.0000775 a request.
    const { id, key } = await createKey({ budget_usd: 0.0001 });
    expect((await chat(key)).status).toBe(200);
    await settled(id, (s) => s.in_flight === 0);
    expect((await chat(key)).status).toBe(200);
    const state = await settled(id, (s) => s.in_flight === 0);
    expect(state.spent_usd).toBeCloseTo(0.000155, 9);
    const refused = await chat(key);
    expect(refused.status).toBe(429);
    assertErrorResponse(refused.json);
    expect(refused.json.error).toMatchObject({ type: 'insufficient_quota', code: 'budget_exceeded' });
    expect(refused.json.error.message).toContain('monthly budget of $0.0001 is spent');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(mock.server.requests).toHaveLength(2);
    await admin(`/keys/${id}`, { method: 'PATCH', body: { budget_usd: 1 } });
    expect((await chat(key)).status).toBe(200);
  });
});

describe('admin: update, revoke, rotate', () => {
  it('creates a key with every limit; PATCH changes name, models, expiry; null clears', async () => {
    const created = await admin('/keys', { body: { name: 'alice', models: ['gpt-4o'], rpm: 60, tpm: 200000, max_concurrent: 8, budget_usd: 50, expires_at: '2099-01-01' } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ rpm: 60, tpm: 200000, max_concurrent: 8, budget_usd: 50 });
    const { id } = created.json;
    const patched = await admin(`/keys/${id}`, { method: 'PATCH', body: { name: 'alice2', models: null, expires_at: null, tpm: null, budget_usd: 12.5 } });
    expect(patched.status).toBe(200);
    expect(patched.json).toEqual({
      object: 'gateway_key',
      id,
      name: 'alice2',
      models: null,
      rpm: 60,
      tpm: null,
      max_concurrent: 8,
      budget_usd: 12.5,
      created_at: created.json.created_at,
      expires_at: null,
      revoked_at: null,
    });
    expect((await admin(`/keys/${id}`)).json).toEqual(patched.json);
  });

  it('revoking a limited key applies to the very next request', async () => {
    const { id, key } = await createKey({ rpm: 100 });
    expect((await chat(key)).status).toBe(200);
    await admin(`/keys/${id}/revoke`, { method: 'POST' });
    const res = await chat(key);
    expect(res.status).toBe(401);
    expect(res.json.error.message).toBe('This gateway key has been revoked.');
  });

  it('rotate: a new secret for the same key; the old one stops at once; limits and id kept', async () => {
    const { id, key } = await createKey({ rpm: 100, models: ['gpt-4o'] });
    expect((await chat(key)).status).toBe(200);
    const rotated = await admin(`/keys/${id}/rotate`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    expect(rotated.json).toMatchObject({ object: 'gateway_key', id, rpm: 100, models: ['gpt-4o'] });
    expect(rotated.json.key).toMatch(/^sk-sb-[A-Za-z0-9_-]{43}$/);
    expect(rotated.json.key).not.toBe(key);
    expect((await chat(key)).status).toBe(401);
    expect((await chat(rotated.json.key)).status).toBe(200);
    expect((await admin(`/keys/${id}`)).json.key).toBeUndefined();
  });

  it('bad input → 400 naming the field; unknown id → 404', async () => {
    const { id } = await createKey({});
    const cases: [method: string, path: string, body: unknown, param: string | null][] = [
      ['POST', '/keys', { name: 'x', rpm: 0 }, 'rpm'],
      ['POST', '/keys', { name: 'x', budget_usd: 'lots' }, 'budget_usd'],
      ['POST', '/keys', { name: 'x', max_concurrent: 2.5 }, 'max_concurrent'],
      ['PATCH', `/keys/${id}`, { tpm: -1 }, 'tpm'],
      ['PATCH', `/keys/${id}`, { expires_at: '2001-01-01' }, 'expires_at'],
      ['PATCH', `/keys/${id}`, { name: null }, 'name'],
      ['PATCH', `/keys/${id}`, { models: ['bad model'] }, 'models[0]'],
      ['PATCH', `/keys/${id}`, { key: 'x' }, 'key'],
      ['PATCH', `/keys/${id}`, {}, null],
    ];
    for (const [method, path, body, param] of cases) {
      const res = await admin(path, { method, body });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      assertErrorResponse(res.json);
      expect(res.json.error.param).toBe(param);
    }
    for (const res of [await admin('/keys/key_nope', { method: 'PATCH', body: { rpm: 1 } }), await admin('/keys/key_nope/rotate', { method: 'POST' })]) {
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe('key_not_found');
    }
  });
});

describe('keys without limits', () => {
  it('carry no x-ratelimit headers and never touch a limiter (GATEWAY_KEYS keys neither)', async () => {
    const { id, key } = await createKey({});
    for (const k of [key, TEST_GATEWAY_KEY]) {
      const res = await chat(k);
      expect(res.status).toBe(200);
      expect([...res.headers.keys()].filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);
    }
    expect(await limiterState(id)).toBeNull();
  });
});

describe('GET /v1/models', () => {
  it('a key limited to some models sees only those', async () => {
    const { key } = await createKey({ models: ['gpt-4o'] });
    const limited = await call('/v1/models', { token: key });
    assertModelList(limited.json);
    expect(limited.json.data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o']);
    const all = await call('/v1/models', { token: TEST_GATEWAY_KEY });
    expect(all.json.data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('GET /v1/models/{model}: a model outside the key’s patterns is as unknown as a missing one', async () => {
    const { key } = await createKey({ models: ['gpt-4o'] });
    const allowed = await call('/v1/models/gpt-4o', { token: key });
    expect(allowed.status).toBe(200);
    assertModel(allowed.json);
    expect(allowed.json.id).toBe('gpt-4o');
    const outside = await call('/v1/models/gpt-4o-mini', { token: key });
    expect(outside.status).toBe(404);
    assertErrorResponse(outside.json);
    expect(outside.json.error).toMatchObject({ code: 'model_not_found', param: 'model' });
    expect((await call('/v1/models/gpt-4o-mini', { token: TEST_GATEWAY_KEY })).status).toBe(200);
  });
});
