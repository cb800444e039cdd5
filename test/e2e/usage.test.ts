import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse, collectValidChunks } from '../helpers/schema';
import { ANTHROPIC_TEST_KEY, completeMessage, messageEvents, startAnthropicMock, type AnthropicMock } from '../upstreams/anthropic';
import { OPENAI_TEST_KEY } from '../upstreams/openai';
import { startHeldOpenAIMock, USAGE, type HeldOpenAIMock } from '../upstreams/openai-held';
import type { UsageRow } from '../../src/usage/usage-store';

// Usage accounting in the real Worker: every chat request recorded in D1 after its
// response (tokens, cost from the price table, latency, status, streamed), and the
// admin and self-service reports over it (GET /admin/usage, GET /v1/me).

const ADMIN_TOKEN = 'switchboard-admin-test-token-usage-0123';
let openai: HeldOpenAIMock;
let anthropic: AnthropicMock;
let gateway: Gateway;

/** A usage row as D1 returns it (SQLite has no booleans). */
type Row = Omit<UsageRow, 'streamed'> & { streamed: number };

async function call(path: string, init: { token?: string; body?: unknown } = {}) {
  const res = await fetch(`${gateway.url}${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? (JSON.parse(text) as any) : undefined };
}
const admin = (path: string, body?: unknown) => call(`/admin${path}`, { token: ADMIN_TOKEN, body });

async function createKey(name: string, body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const res = await admin('/keys', { name, ...body });
  expect(res.status).toBe(201);
  return res.json;
}

/** The key's usage rows, once there are `count` of them (they are written after each response). */
async function rows(keyId: string | null, count: number): Promise<Row[]> {
  const db = await gateway.mf.getD1Database('DB');
  for (let i = 0; i < 300; i++) {
    const { results } = await db
      .prepare(`SELECT * FROM usage WHERE ${keyId === null ? 'key_id IS NULL' : 'key_id = ?'} ORDER BY id`)
      .bind(...(keyId === null ? [] : [keyId]))
      .all<Row>();
    if (results.length >= count) return results;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fewer than ${count} usage rows for ${keyId}`);
}

// gpt-4o list price: 10 uncached × $2.50 + 2 cached × $1.25 + 5 out × $10 per million.
const GPT_4O_COST = 0.0000775;

beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startHeldOpenAIMock(), startAnthropicMock()]);
  gateway = await startGateway({
    ADMIN_TOKEN,
    MODELS: JSON.stringify({
      'gpt-4o': { target: 'openai/gpt-4o' },
      'gpt-4o-mini': { target: 'openai/gpt-4o-mini' },
      'claude-haiku': { target: 'anthropic/claude-haiku-4-5' },
      'my-model': { target: 'openai/my-finetune' },
    }),
    PRICES: JSON.stringify({ 'openai/gpt-4o-mini': { input: 1, output: 2 } }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${openai.url}/v1`,
    ANTHROPIC_API_KEY: ANTHROPIC_TEST_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
  });
});

afterAll(async () => {
  openai?.release();
  await gateway?.close();
  await Promise.all([openai?.close(), anthropic?.close()]);
});

describe('recording', () => {
  it('a plain request: tokens, cached tokens, cost from the price table, deployment, latency', async () => {
    const { id, key } = await createKey('plain');
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    assertChatCompletion(await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
    const [row] = await rows(id, 1);
    expect(row).toMatchObject({
      key_id: id,
      model: 'gpt-4o',
      deployment: 'openai/gpt-4o',
      provider_model: 'openai/gpt-4o',
      prompt_tokens: 12,
      completion_tokens: 5,
      cached_tokens: 2,
      status: 200,
      streamed: 0,
      error_type: null,
      note: null,
    });
    expect(row.cost_usd).toBeCloseTo(GPT_4O_COST, 12);
    expect(row.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('a stream whose client did not ask for usage: asked upstream, taken out of the stream, counted when it ends', async () => {
    const { id, key } = await createKey('stream');
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    const chunks = await collectValidChunks(await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(openai.server.last.body.stream_options).toEqual({ include_usage: true });
    expect(chunks.some((c) => c.choices.length === 0 || c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('ok');
    const [row] = await rows(id, 1);
    expect(row).toMatchObject({ model: 'gpt-4o', prompt_tokens: 12, completion_tokens: 5, cached_tokens: 2, status: 200, streamed: 1, error_type: null });
    expect(row.cost_usd).toBeCloseTo(GPT_4O_COST, 12);
  });

  it('a stream whose client asked for usage keeps its usage chunk', async () => {
    const { id, key } = await createKey('stream-usage');
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    const chunks = await collectValidChunks(
      await client.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 5 } });
    expect((await rows(id, 1))[0]).toMatchObject({ prompt_tokens: 12, completion_tokens: 5, streamed: 1 });
  });

  it('a translated (Claude) answer, streamed or not: the usage the translator reports, at the Claude price', async () => {
    const { id, key } = await createKey('claude');
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'count these words please' }];
    const withUsage = await collectValidChunks(await client.chat.completions.create({ model: 'claude-haiku', stream: true, stream_options: { include_usage: true }, messages }));
    const usage = withUsage.at(-1)!.usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    const without = await collectValidChunks(await client.chat.completions.create({ model: 'claude-haiku', stream: true, messages }));
    expect(without.some((c) => c.choices.length === 0)).toBe(false);
    const whole = await client.chat.completions.create({ model: 'claude-haiku', messages });
    assertChatCompletion(whole);
    expect(whole.usage).toMatchObject({ prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens });
    const recorded = await rows(id, 3);
    expect(recorded.map((r) => r.streamed)).toEqual([1, 1, 0]);
    for (const row of recorded) {
      expect(row).toMatchObject({ model: 'claude-haiku', provider_model: 'anthropic/claude-haiku-4-5', prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, status: 200 });
      // claude-haiku-4-5: $1 in, $5 out per million.
      expect(row.cost_usd).toBeCloseTo((usage.prompt_tokens * 1 + usage.completion_tokens * 5) / 1e6, 12);
    }
  });

  it('a translated (Claude) stream the client leaves: 499, with the usage it had reported; the upstream stopped, the key’s slot freed', async () => {
    // (The runtime does not cancel a response body nothing reads once its client is gone: the stream learns it from the request's signal.)
    const { id, key } = await createKey('claude-left', { max_concurrent: 1 });
    const long = completeMessage({ content: [{ type: 'text', text: 'word '.repeat(400) }], usage: { input_tokens: 21, output_tokens: 400 } }, 'claude-haiku-4-5');
    anthropic.script.push({ events: messageEvents(long), delayMs: 5 });
    const before = anthropic.abandonedStreams;
    const client = new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'claude-haiku', stream: true, messages: [{ role: 'user', content: 'x' }] });
    let received = 0;
    for await (const _ of stream) if (++received === 3) break;
    const [row] = await rows(id, 1);
    // message_start brought the input tokens and the first output token; the rest never came.
    expect(row).toMatchObject({ model: 'claude-haiku', status: 499, error_type: 'client_closed_request', streamed: 1, prompt_tokens: 21, completion_tokens: 1 });
    await vi.waitFor(() => expect(anthropic.abandonedStreams).toBe(before + 1), { timeout: 10_000, interval: 20 });
    // max_concurrent 1: the next request is admitted only if the abandoned stream gave its slot back.
    await vi.waitFor(async () => expect((await client.chat.completions.create({ model: 'claude-haiku', messages: [{ role: 'user', content: 'again' }] })).choices[0].message.content).toBeTruthy(), {
      timeout: 10_000,
      interval: 50,
    });
  });

  it('price overrides from PRICES apply; an unknown model costs 0 with a note', async () => {
    const { id, key } = await createKey('prices');
    expect((await call('/v1/chat/completions', { token: key, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } })).status).toBe(200);
    expect((await call('/v1/chat/completions', { token: key, body: { model: 'my-model', messages: [{ role: 'user', content: 'hi' }] } })).status).toBe(200);
    const [mini, unknown] = await rows(id, 2);
    // 12 prompt × $1 + 5 out × $2 per million (the override has no cached price: cached at the input price).
    expect(mini.cost_usd).toBeCloseTo(0.000022, 12);
    expect(unknown).toMatchObject({ cost_usd: 0, prompt_tokens: 12, note: 'no price for openai/my-finetune: cost recorded as 0' });
  });

  it('errors are recorded with their status and type: unknown model, bad body, upstream failure, a stream the client left', async () => {
    const { id, key } = await createKey('errors');
    expect((await call('/v1/chat/completions', { token: key, body: { model: 'nope', messages: [{ role: 'user', content: 'hi' }] } })).status).toBe(404);
    expect((await call('/v1/chat/completions', { token: key, body: '{"model":' })).status).toBe(400);
    const failed = await call('/v1/chat/completions', { token: key, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'fail' }] } });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    assertErrorResponse(failed.json);
    const controller = new AbortController();
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hold' }] }),
      signal: controller.signal,
    });
    await res.body!.getReader().read();
    controller.abort();
    openai.release(); // the runtime notices the client left at its next write
    const recorded = await rows(id, 4);
    expect(recorded.map((r) => [r.model, r.status, r.error_type, r.streamed])).toEqual([
      ['nope', 404, 'model_not_found', 0],
      [null, 400, recorded[1].error_type, 0],
      ['gpt-4o', failed.status, recorded[2].error_type, 0],
      ['gpt-4o', 499, 'client_closed_request', 1],
    ]);
    expect(recorded[1].error_type).toBeTruthy();
    expect(recorded[2].error_type).toBeTruthy();
  });

  it('GATEWAY_KEYS keys are recorded too, without a key id', async () => {
    const before = (await rows(null, 0)).length;
    expect((await call('/v1/chat/completions', { token: TEST_GATEWAY_KEY, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } })).status).toBe(200);
    const after = await rows(null, before + 1);
    expect(after.at(-1)).toMatchObject({ key_id: null, model: 'gpt-4o', prompt_tokens: 12 });
  });
});

describe('GET /admin/usage', () => {
  it('groups by key, model and day, with filters; since defaults to the start of the month', async () => {
    const a = await createKey('report-a');
    const b = await createKey('report-b');
    const send = (key: string, model: string) => call('/v1/chat/completions', { token: key, body: { model, messages: [{ role: 'user', content: 'hi' }] } });
    for (const [key, model] of [
      [a.key, 'gpt-4o'],
      [a.key, 'gpt-4o'],
      [a.key, 'gpt-4o-mini'],
      [b.key, 'gpt-4o'],
    ]) {
      expect((await send(key, model)).status).toBe(200);
    }
    await rows(a.id, 3);
    await rows(b.id, 1);

    const byKey = await admin('/usage?group_by=key');
    expect(byKey.status).toBe(200);
    const month = new Date().toISOString().slice(0, 7);
    expect(byKey.json).toMatchObject({ object: 'list', group_by: 'key', since: `${month}-01T00:00:00.000Z`, until: null });
    const groupA = byKey.json.data.find((g: any) => g.group === a.id);
    expect(groupA).toEqual({
      group: a.id,
      key_name: 'report-a',
      requests: 3,
      errors: 0,
      prompt_tokens: 36,
      completion_tokens: 15,
      cached_tokens: 6,
      cost_usd: expect.closeTo(2 * GPT_4O_COST + 0.000022, 12),
      avg_latency_ms: expect.any(Number),
    });
    expect(byKey.json.data.find((g: any) => g.group === null)).toMatchObject({ key_name: '(GATEWAY_KEYS)' });

    const byModel = await admin(`/usage?group_by=model&key=${a.id}`);
    expect(byModel.json.data.map((g: any) => [g.group, g.requests])).toEqual([
      ['gpt-4o', 2],
      ['gpt-4o-mini', 1],
    ]);
    expect(byModel.json.data[0]).not.toHaveProperty('key_name');

    const byDay = await admin(`/usage?group_by=day&key=${a.id}&model=gpt-4o`);
    expect(byDay.json.data).toEqual([expect.objectContaining({ group: new Date().toISOString().slice(0, 10), requests: 2 })]);

    const future = await admin(`/usage?since=2099-01-01`);
    expect(future.json.data).toEqual([]);
    const past = await admin(`/usage?since=2020-01-01&until=2020-02-01`);
    expect(past.json).toMatchObject({ since: '2020-01-01T00:00:00.000Z', until: '2020-02-01T00:00:00.000Z', data: [] });
  });

  it('bad parameters → 400 naming them; a gateway key is refused', async () => {
    for (const [query, param] of [
      ['group_by=user', 'group_by'],
      ['since=yesterday', 'since'],
      ['since=2026-02-01&until=2026-01-01', 'until'],
      ['foo=1', 'foo'],
    ]) {
      const res = await admin(`/usage?${query}`);
      expect(res.status, query).toBe(400);
      assertErrorResponse(res.json);
      expect(res.json.error.param).toBe(param);
    }
    expect((await call('/admin/usage', { token: TEST_GATEWAY_KEY })).status).toBe(401);
  });
});

describe('GET /v1/me', () => {
  it("a key's own limits and this month's usage, nothing about other keys", async () => {
    const mine = await createKey('me', { models: ['gpt-4o'], rpm: 100, budget_usd: 5 });
    const other = await createKey('someone-else');
    await call('/v1/chat/completions', { token: other.key, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } });
    await call('/v1/chat/completions', { token: mine.key, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } });
    await rows(mine.id, 1);
    await rows(other.id, 1);
    const res = await call('/v1/me', { token: mine.key });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      object: 'gateway_key',
      id: mine.id,
      name: 'me',
      models: ['gpt-4o'],
      rpm: 100,
      tpm: null,
      max_concurrent: null,
      budget_usd: 5,
      expires_at: null,
      usage: {
        month: new Date().toISOString().slice(0, 7),
        requests: 1,
        prompt_tokens: USAGE.prompt_tokens,
        completion_tokens: USAGE.completion_tokens,
        cached_tokens: 2,
        cost_usd: expect.closeTo(GPT_4O_COST, 12),
      },
    });
    expect(res.text).not.toContain(other.id);
    expect(res.text).not.toContain('someone-else');
  });

  it('a GATEWAY_KEYS key has no record: null fields; no key → 401', async () => {
    const res = await call('/v1/me', { token: TEST_GATEWAY_KEY });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ object: 'gateway_key', id: null, usage: null });
    expect((await call('/v1/me')).status).toBe(401);
  });
});
