import OpenAI from 'openai';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keyHash } from '../../src/auth/key-format';
import { bundlePath, startGateway, TEST_GATEWAY_KEY, wranglerSettings, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse } from '../helpers/schema';
import { OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// Gateway keys stored in D1 and the admin API (/admin/keys), in the real Worker in workerd
// with the D1 database wrangler.toml declares (in memory, migrated from migrations/).

const ADMIN_TOKEN = 'switchboard-admin-test-token-0123456789';

let mock: OpenAIMock;
let gateway: Gateway;
/** Every response body and header block the tests saw, to check that no key or hash leaks. */
const seen: { what: string; text: string }[] = [];

async function call(path: string, init: { method?: string; token?: string | null; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${gateway.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  seen.push({ what: `${init.method ?? ''} ${path} → ${res.status}`, text: `${JSON.stringify([...res.headers])}\n${text}` });
  return { status: res.status, headers: res.headers, text, json: text ? (JSON.parse(text) as any) : undefined };
}

const admin = (path: string, init: { method?: string; body?: unknown } = {}) => call(`/admin${path}`, { ...init, token: ADMIN_TOKEN });
const chat = (key: string, model = 'gpt-4o') =>
  call('/v1/chat/completions', { token: key, body: { model, messages: [{ role: 'user', content: 'hi' }] } });

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await admin('/keys', { body });
  expect(res.status).toBe(201);
  return res.json;
}

beforeAll(async () => {
  mock = await startOpenAIMock();
  gateway = await startGateway({
    ADMIN_TOKEN,
    MODELS: JSON.stringify({ 'gpt-4o': { target: 'openai/gpt-4o' }, 'claude-sonnet': { target: 'anthropic/claude-sonnet-4-6' } }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${mock.url}/v1`,
  });
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

beforeEach(() => mock.server.reset());

describe('admin API', () => {
  it('creates a key, shown once with its prefix; list and show never carry it', async () => {
    const created = await admin('/keys', { body: { name: 'alice', models: ['gpt-4o', 'anthropic/*'], expires_at: '2099-01-01' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.json).toMatchObject({
      object: 'gateway_key',
      name: 'alice',
      models: ['gpt-4o', 'anthropic/*'],
      expires_at: '2099-01-01T00:00:00.000Z',
      revoked_at: null,
    });
    expect(created.json.key).toMatch(/^sk-sb-[A-Za-z0-9_-]{43}$/);
    expect(created.json.id).toMatch(/^key_[0-9a-f]{24}$/);
    // The contract's key object (notes/issue5-contract.md), in its order; no limits unless asked for.
    expect(Object.keys(created.json)).toEqual(['object', 'id', 'name', 'models', 'rpm', 'tpm', 'max_concurrent', 'budget_usd', 'created_at', 'expires_at', 'revoked_at', 'key']);
    expect(created.json).toMatchObject({ rpm: null, tpm: null, max_concurrent: null, budget_usd: null });

    const shown = await admin(`/keys/${created.json.id}`);
    expect(shown.status).toBe(200);
    const { key: _key, ...withoutKey } = created.json;
    expect(shown.json).toEqual(withoutKey);

    const listed = await admin('/keys');
    expect(listed.status).toBe(200);
    expect(listed.json.object).toBe('list');
    expect(listed.json.data).toContainEqual(withoutKey);
    for (const k of listed.json.data) expect(Object.keys(k)).not.toContain('key');

    // Only the hash is in the database.
    const rows = await (await gateway.mf.getD1Database('DB')).prepare('SELECT * FROM gateway_keys WHERE id = ?').bind(created.json.id).all();
    expect(JSON.stringify(rows.results)).not.toContain(created.json.key);
    expect(rows.results[0].key_hash).toBe(await keyHash(created.json.key));
  });

  it('create → use → revoke → 401 on the very next request', async () => {
    const { id, key } = await createKey({ name: 'bob' });
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    assertChatCompletion(await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
    // The Azure-style header works for stored keys too.
    const azureStyle = await fetch(`${gateway.url}/v1/models`, { headers: { 'api-key': key } });
    expect(azureStyle.status).toBe(200);

    const revoked = await admin(`/keys/${id}/revoke`, { method: 'POST' });
    expect(revoked.status).toBe(200);
    expect(revoked.json.revoked_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const requestsBefore = mock.server.requests.length;

    const next = await chat(key);
    expect(next.status).toBe(401);
    assertErrorResponse(next.json);
    expect(next.json.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key', message: 'This gateway key has been revoked.' });
    expect(mock.server.requests.length).toBe(requestsBefore);
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 401 });

    // Revoking again keeps the first revocation time.
    const again = await admin(`/keys/${id}/revoke`, { method: 'POST' });
    expect(again.json.revoked_at).toBe(revoked.json.revoked_at);
  });

  it('an expired key → 401', async () => {
    const { id, key } = await createKey({ name: 'carol', expires_at: '2099-01-01' });
    expect((await chat(key)).status).toBe(200);
    // Expiry without waiting: move the stored expiry into the past.
    const db = await gateway.mf.getD1Database('DB');
    await db.prepare('UPDATE gateway_keys SET expires_at = ? WHERE id = ?').bind('2020-01-01T00:00:00.000Z', id).run();
    const res = await chat(key);
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ type: 'authentication_error', message: 'This gateway key has expired.' });
  });

  it("a model outside the key's patterns → 403 permission_error, before any upstream call", async () => {
    const { key } = await createKey({ name: 'dave', models: ['gpt-4o', 'anthropic/*'] });
    expect((await chat(key, 'gpt-4o')).status).toBe(200);
    const requestsBefore = mock.server.requests.length;
    for (const model of ['gpt-4o-mini', 'openai/gpt-4o', 'claude-sonnet', 'gemini/gemini-2.5-pro']) {
      const res = await chat(key, model);
      expect(res.status, model).toBe(403);
      assertErrorResponse(res.json);
      expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed', param: 'model' });
      expect(res.json.error.message).toContain(`'${model}'`);
    }
    expect(mock.server.requests.length).toBe(requestsBefore);
    // Inside a pattern the request goes on to routing (no Anthropic credentials here: 503, not 403).
    expect((await chat(key, 'anthropic/claude-haiku-4-5')).status).toBe(503);
  });

  it('an unknown stored-format key → 401; GATEWAY_KEYS keys keep working, with every model', async () => {
    const res = await chat(`sk-sb-${'A'.repeat(43)}`);
    expect(res.status).toBe(401);
    expect(res.json.error.message).toBe('Invalid gateway key.');
    expect((await chat(TEST_GATEWAY_KEY, 'gpt-4o')).status).toBe(200);
    expect((await chat(TEST_GATEWAY_KEY, 'openai/gpt-4o-mini')).status).toBe(200);
  });

  it('admin routes refuse a gateway key (stored or from GATEWAY_KEYS), a wrong token and no token: 401', async () => {
    const { key } = await createKey({ name: 'eve' });
    for (const token of [key, TEST_GATEWAY_KEY, `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1), null]) {
      for (const [method, path, body] of [
        ['GET', '/admin/keys', undefined],
        ['POST', '/admin/keys', { name: 'mallory' }],
      ] as const) {
        const res = await call(path, { method, token, body });
        expect(res.status, `${method} ${path} with ${token === null ? 'no token' : 'a wrong token'}`).toBe(401);
        assertErrorResponse(res.json);
        expect(res.json.error).toMatchObject({ type: 'authentication_error', code: 'invalid_admin_token' });
      }
    }
    // Nothing was created by the refused requests.
    expect((await admin('/keys')).json.data.map((k: { name: string }) => k.name)).not.toContain('mallory');
  });

  it('bad input → 400 naming the field; unknown id → 404', async () => {
    const cases: [body: unknown, param: string][] = [
      [{}, 'name'],
      [{ name: 'x', models: [] }, 'models'],
      [{ name: 'x', models: ['ok', 'not ok'] }, 'models[1]'],
      [{ name: 'x', expires_at: '2001-01-01' }, 'expires_at'],
    ];
    for (const [body, param] of cases) {
      const res = await admin('/keys', { body });
      expect(res.status).toBe(400);
      assertErrorResponse(res.json);
      expect(res.json.error.param).toBe(param);
    }
    for (const res of [await admin('/keys/key_nope'), await admin('/keys/key_nope/revoke', { method: 'POST' })]) {
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe('key_not_found');
    }
  });

  it('no key or hash appears in any response except its creation response', async () => {
    const created = await admin('/keys', { body: { name: 'leak-check', models: ['gpt-4o'] } });
    const { id, key } = created.json;
    await admin(`/keys/${id}`);
    await admin('/keys');
    await chat(key, 'gpt-4o');
    await chat(key, 'gpt-4o-mini');
    await call('/admin/keys', { token: key });
    await admin(`/keys/${id}/revoke`, { method: 'POST' });
    await chat(key);
    await admin('/keys');
    const hash = await keyHash(key);
    const creation = seen.filter((s) => s.text.includes(key));
    expect(creation).toHaveLength(1);
    expect(creation[0].what).toBe(' /admin/keys → 201');
    // Across everything this file saw, every created key appears only in its own creation response, and no hash ever.
    const keys = seen.flatMap((s) => [...s.text.matchAll(/sk-sb-[A-Za-z0-9_-]{43}/g)].map((m) => m[0]));
    expect(new Set(keys).size).toBe(keys.length);
    for (const s of seen) expect(s.text, s.what).not.toMatch(/[0-9a-f]{64}/);
    expect(seen.some((s) => s.text.includes(hash))).toBe(false);
  });
});

describe('without ADMIN_TOKEN', () => {
  it('the admin API is disabled: 404, whatever the token', async () => {
    const plain = await startGateway({});
    try {
      for (const token of [null, TEST_GATEWAY_KEY, ADMIN_TOKEN]) {
        const res = await fetch(`${plain.url}/admin/keys`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        expect(res.status).toBe(404);
        const body = (await res.json()) as any;
        assertErrorResponse(body);
        expect(body.error.code).toBe('admin_api_disabled');
      }
    } finally {
      await plain.close();
    }
  });
});

describe('without a DB binding', () => {
  it('works as before with GATEWAY_KEYS; stored-format keys are refused; admin key routes say the binding is missing', async () => {
    const { d1Databases: _none, ...settings } = wranglerSettings();
    const mf = new Miniflare({
      modules: true,
      scriptPath: bundlePath,
      ...settings,
      bindings: { GATEWAY_KEYS: TEST_GATEWAY_KEY, ADMIN_TOKEN, OPENAI_API_KEY: OPENAI_TEST_KEY, OPENAI_BASE_URL: `${mock.url}/v1` },
      port: 0,
    });
    try {
      const url = (await mf.ready).toString().replace(/\/$/, '');
      const post = (key: string) =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
        });
      expect((await post(TEST_GATEWAY_KEY)).status).toBe(200);
      expect((await post(`sk-sb-${'A'.repeat(43)}`)).status).toBe(401);
      const res = await fetch(`${url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(503);
      const body = (await res.json()) as any;
      assertErrorResponse(body);
      expect(body.error).toMatchObject({ code: 'gateway_misconfigured' });
      expect(body.error.message).toContain('"DB"');
    } finally {
      await mf.dispose();
    }
  });
});

describe('with a DB binding whose migrations were never applied', () => {
  it('GATEWAY_KEYS keep working; stored keys and the admin API answer 503 naming the command to run', async () => {
    // wrangler.toml's D1 database, fresh and empty: what `npm start` sees before `wrangler d1 migrations apply`.
    const mf = new Miniflare({
      modules: true,
      scriptPath: bundlePath,
      ...wranglerSettings(),
      bindings: { GATEWAY_KEYS: TEST_GATEWAY_KEY, ADMIN_TOKEN },
      port: 0,
    });
    try {
      const url = (await mf.ready).toString().replace(/\/$/, '');
      expect((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` } })).status).toBe(200);
      for (const res of [
        await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer sk-sb-${'A'.repeat(43)}` } }),
        await fetch(`${url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      ]) {
        expect(res.status).toBe(503);
        const body = (await res.json()) as any;
        assertErrorResponse(body);
        expect(body.error.code).toBe('gateway_misconfigured');
        expect(body.error.message).toContain('wrangler d1 migrations apply');
      }
    } finally {
      await mf.dispose();
    }
  });
});
