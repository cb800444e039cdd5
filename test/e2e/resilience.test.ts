import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Miniflare } from 'miniflare';
import { bundlePath, startGateway, TEST_GATEWAY_KEY, wranglerSettings, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse, assertModelList, collectValidChunks } from '../helpers/schema';
import { ANTHROPIC_TEST_KEY, errorBody, startAnthropicMock, type AnthropicMock } from '../upstreams/anthropic';
import { MockServer } from '../upstreams/mock-server';
import { AZURE_TEST_KEY, OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// The router in the real Worker: deployments of one alias on separate mock upstreams
// (Azure "east" on one mock, OpenAI on another), one that is down (a closed port), one
// that stalls before its first byte, and Anthropic answering 529 storms. Backoffs are
// configured in milliseconds; assertions are on attempts, order and headers, not time.

let east: OpenAIMock;
let openai: OpenAIMock;
let anthropic: AnthropicMock;
let stall: MockServer;
/** Connections to the stalling upstream that the gateway closed (abandoned attempts). */
let stallClosed = 0;
let gateway: Gateway;
let client: OpenAI;

const azure = (deployment: string, endpoint: string, extra: object = {}) => ({ target: `azure/${deployment}`, endpoint, api_version: '2024-10-21', ...extra });

beforeAll(async () => {
  [east, openai, anthropic] = await Promise.all([startOpenAIMock(), startOpenAIMock(), startAnthropicMock()]);
  // An OpenAI-style upstream that answers 200 with SSE headers and then says nothing.
  stall = await MockServer.start((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    res.on('close', () => stallClosed++);
  });
  gateway = await startGateway({
    MODELS: JSON.stringify({
      balanced: { deployments: [{ ...azure('gpt-4o', east.url), name: 'east' }, { target: 'openai/gpt-4o', tier: 1 }] },
      single: { deployments: [{ ...azure('gpt-4o-single', east.url), name: 'east' }] },
      cooling: { deployments: [{ ...azure('gpt-4o-cooling', east.url), name: 'east' }, { target: 'openai/gpt-4o', tier: 1 }] },
      'down-first': {
        cooldown_failures: 2,
        deployments: [{ ...azure('gpt-4o', 'http://127.0.0.1:9'), name: 'down' }, { target: 'openai/gpt-4o', tier: 1 }],
      },
      'stall-first': { deployments: [{ ...azure('gpt-4o', stall.url), name: 'stall', first_byte_timeout_ms: 300 }, { target: 'openai/gpt-4o', tier: 1 }] },
      exact: { deployments: [{ ...azure('gpt-4o-exact', east.url), name: 'east' }] },
      shown: { deployments: [{ ...azure('gpt-4o-shown', east.url), name: 'east' }, { target: 'openai/gpt-4o', tier: 1 }] },
      'half-limited': { deployments: [{ ...azure('gpt-4o-half', east.url), name: 'east' }, { target: 'openai/gpt-4o', name: 'openai' }] },
      claude: { target: 'anthropic/claude-sonnet-4-5' },
      'quick-stall': { target: 'openai/gpt-4o', stream_idle_timeout_ms: 300 },
      'quick-stall-claude': { target: 'anthropic/claude-sonnet-4-5', stream_idle_timeout_ms: 300 },
    }),
    ROUTING: JSON.stringify({ retries: 4, attempts_per_deployment: 2, backoff_base_ms: 1, backoff_max_ms: 5, cooldown_failures: 100 }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${openai.url}/v1`,
    AZURE_OPENAI_API_KEY: AZURE_TEST_KEY,
    AZURE_OPENAI_ENDPOINT: east.url,
    ANTHROPIC_API_KEY: ANTHROPIC_TEST_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
  });
  client = new OpenAI({ apiKey: TEST_GATEWAY_KEY, baseURL: gateway.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([east?.close(), openai?.close(), anthropic?.close(), stall?.close()]);
});

beforeEach(() => {
  for (const m of [east, openai]) {
    m.server.reset();
    m.script.length = 0;
  }
  anthropic.server.reset();
  anthropic.script.length = 0;
});

const post = (body: object, headers: Record<string, string> = {}) =>
  fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
const ask = (model: string, text = 'hi', extra: object = {}) => ({ model, messages: [{ role: 'user', content: text }], ...extra });
const rateLimit = (retryAfter: string) => ({
  status: 429,
  headers: { 'retry-after': retryAfter },
  body: { error: { message: 'Rate limit reached for gpt-4o', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
});

describe('retries and fallbacks', () => {
  it('429 with retry-after on the only deployment: retried after it, then answered', async () => {
    east.script.push(rateLimit('0'));
    const res = await post(ask('single'));
    expect(res.status).toBe(200);
    assertChatCompletion(await res.json());
    expect(res.headers.get('x-switchboard-attempts')).toBe('2');
    expect(res.headers.get('x-switchboard-deployment')).toBe('east');
    expect(east.server.requests).toHaveLength(2);
  });

  it('a 529 storm from Anthropic: backed off and retried until it passes, one answer', async () => {
    for (let i = 0; i < 3; i++) anthropic.script.push({ status: 529, body: errorBody('overloaded_error', 'Overloaded') });
    const res = await post(ask('claude', 'storm'), { 'x-switchboard-retries': '5' });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toBe('echo: storm');
    expect(res.headers.get('x-switchboard-attempts')).toBe('4');
    expect(anthropic.server.requests).toHaveLength(4);
  });

  it('a 529 storm longer than the retries: 503 with the attempts counted', async () => {
    for (let i = 0; i < 5; i++) anthropic.script.push({ status: 529, body: errorBody('overloaded_error', 'Overloaded') });
    const res = await post(ask('claude'), { 'x-switchboard-retries': '2' });
    expect(res.status).toBe(503);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error.code).toBe('upstream_unavailable');
    expect(res.headers.get('x-switchboard-attempts')).toBe('3');
    expect(anthropic.server.requests).toHaveLength(3);
  });

  it('a deployment that is down: tried attempts_per_deployment times, then the next tier; then it rests', async () => {
    const first = await post(ask('down-first', 'one'));
    expect(first.status).toBe(200);
    expect((await first.json()).choices[0].message.content).toBe('echo: one');
    expect(first.headers.get('x-switchboard-attempts')).toBe('3');
    expect(first.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
    expect(openai.server.requests).toHaveLength(1);
    // Two failures reach cooldown_failures = 2: the next request goes straight to the fallback.
    const second = await post(ask('down-first', 'two'));
    expect(second.status).toBe(200);
    expect(second.headers.get('x-switchboard-attempts')).toBe('1');
    expect(openai.server.requests).toHaveLength(2);
  });

  it('x-switchboard-no-fallback: stays on the deployment chosen, its error after the retries', async () => {
    for (let i = 0; i < 3; i++) east.script.push({ status: 503, body: { error: { message: 'Service unavailable', type: 'server_error', param: null, code: null } } });
    const res = await post(ask('balanced'), { 'x-switchboard-no-fallback': 'true', 'x-switchboard-retries': '2' });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('upstream_unavailable');
    expect(res.headers.get('x-switchboard-deployment')).toBe('east');
    expect(res.headers.get('x-switchboard-attempts')).toBe('3');
    expect(east.server.requests).toHaveLength(3);
    expect(openai.server.requests).toHaveLength(0);
  });

  it('without that header the same failures fall back to the next tier', async () => {
    for (let i = 0; i < 3; i++) east.script.push({ status: 503, body: { error: { message: 'Service unavailable', type: 'server_error', param: null, code: null } } });
    const res = await post(ask('balanced'), { 'x-switchboard-retries': '2' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
    expect(east.server.requests).toHaveLength(2);
    expect(openai.server.requests).toHaveLength(1);
  });

  it('a rate-limited deployment with retry-after falls back at once, and rests for the next request', async () => {
    east.script.push(rateLimit('30'));
    const first = await post(ask('cooling'));
    expect(first.status).toBe(200);
    expect(first.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
    expect(first.headers.get('x-switchboard-attempts')).toBe('2');
    const second = await post(ask('cooling'));
    expect(second.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
    expect(second.headers.get('x-switchboard-attempts')).toBe('1');
    expect(east.server.requests).toHaveLength(1);
    expect(openai.server.requests).toHaveLength(2);
  });

  it('a 429 passed on keeps the exact retry-after-ms beside retry-after in whole seconds', async () => {
    east.script.push({ ...rateLimit('2'), headers: { 'retry-after': '2', 'retry-after-ms': '1500' } });
    const res = await post(ask('exact'), { 'x-switchboard-retries': '0' });
    expect(res.status).toBe(429);
    assertErrorResponse(await res.json());
    expect({ after: res.headers.get('retry-after'), afterMs: res.headers.get('retry-after-ms') }).toEqual({ after: '2', afterMs: '1500' });
  });

  it('never retries the client’s own mistake', async () => {
    east.script.push({ status: 400, body: { error: { message: "Invalid value for 'logit_bias'.", type: 'invalid_request_error', param: 'logit_bias', code: 'invalid_value' } } });
    const res = await post(ask('balanced'));
    expect(res.status).toBe(400);
    expect(res.headers.get('x-switchboard-attempts')).toBe('1');
    expect(east.server.requests.length + openai.server.requests.length).toBe(1);
  });

  it('lists aliases with several deployments in GET /v1/models', async () => {
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['balanced', 'down-first', 'stall-first', 'half-limited', 'claude']));
  });

  it('rejects a malformed override header with 400 naming it', async () => {
    const res = await post(ask('balanced'), { 'x-switchboard-retries': 'lots' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('x-switchboard-retries');
  });
});

describe('deployment health in GET /v1/models', () => {
  it('shows a deployment resting after a 429 with retry-after, until when and why; the others ready', async () => {
    const listed = async () => {
      const res = await fetch(`${gateway.baseURL}/models`, { headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` } });
      const body = await res.json();
      assertModelList(body);
      return body.data.find((m: { id: string }) => m.id === 'shown').x_switchboard.deployments;
    };
    expect(await listed()).toEqual([
      { name: 'east', target: 'azure/gpt-4o-shown', tier: 0, weight: 1, status: 'ready' },
      expect.objectContaining({ name: 'openai/gpt-4o', target: 'openai/gpt-4o', tier: 1, status: 'ready' }),
    ]);
    east.script.push(rateLimit('30'));
    const before = Date.now();
    const res = await post(ask('shown'));
    const after = Date.now();
    expect(res.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
    const deployments = await listed();
    expect(deployments).toEqual([
      { name: 'east', target: 'azure/gpt-4o-shown', tier: 0, weight: 1, status: 'resting', until: expect.any(String), reason: 'retry_after', recent_failures: 1 },
      expect.objectContaining({ name: 'openai/gpt-4o', status: 'ready' }),
    ]);
    // Resting for the 30 s the upstream asked, counted from when its 429 arrived.
    const until = Date.parse(deployments[0].until);
    expect(until).toBeGreaterThanOrEqual(before + 30_000);
    expect(until).toBeLessThanOrEqual(after + 30_000);
  });
});

describe('streams', () => {
  it('a stream whose first byte does not come in time goes to the next deployment, and the stalled one is abandoned', async () => {
    const closedBefore = stallClosed;
    const stream = await client.chat.completions
      .create({ ...ask('stall-first', 'patience'), stream: true } as OpenAI.ChatCompletionCreateParamsStreaming)
      .withResponse();
    expect(stream.response.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
    const chunks = await collectValidChunks(stream.data);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: patience');
    // attempts_per_deployment = 2: the stalled deployment is given two chances first.
    expect(stream.response.headers.get('x-switchboard-attempts')).toBe('3');
    await expect.poll(() => stallClosed - closedBefore).toBe(2);
  });

  it('a 429 before a stream begins is retried like any request', async () => {
    east.script.push(rateLimit('0'));
    const stream = await client.chat.completions.create({ ...ask('single', 'again'), stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    const chunks = await collectValidChunks(stream);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: again');
    expect(east.server.requests).toHaveLength(2);
  });

  it('a failure after the first byte ends the stream with an error chunk: no retry, no duplicate', async () => {
    const id = 'chatcmpl-mid';
    const data = (content: string) => JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    east.script.push({ sse: [{ data: data('Partial') }, { data: data(' answer') }, { data: data(' never') }], abortAfter: 2 });
    const stream = await client.chat.completions.create({ ...ask('single'), stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(seen.join('')).toBe('Partial answer');
    expect(east.server.requests).toHaveLength(1);
  });
  /** Reads a stream to its end; the APIError the SDK raises for a final error chunk, and the text before it. */
  async function readUntilError(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
    })().catch((e) => e);
    return { text: seen.join(''), err };
  }

  it('a pass-through stream that goes quiet after it began is abandoned with an upstream_stalled error chunk', async () => {
    const data = (content: string) => JSON.stringify({ id: 'chatcmpl-q', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    openai.script.push({ sse: [{ data: data('Started') }, { data: data(' then silence') }], delayMs: 5_000 });
    const { text, err } = await readUntilError(await client.chat.completions.create({ ...ask('quick-stall'), stream: true } as OpenAI.ChatCompletionCreateParamsStreaming));
    expect(text).toBe('Started');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.error).toMatchObject({ code: 'upstream_stalled', type: 'upstream_error' });
  });

  it('a translated stream (Claude) that goes quiet is abandoned the same way', async () => {
    const ev = (type: string, extra: object) => ({ type, ...extra });
    anthropic.script.push({
      events: [
        ev('message_start', { message: { id: 'msg_q', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Started' } }),
        ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: ' then silence' } }),
      ],
      delayMs: 2_500,
    });
    const { text, err } = await readUntilError(await client.chat.completions.create({ ...ask('quick-stall-claude'), stream: true } as OpenAI.ChatCompletionCreateParamsStreaming));
    expect(text).toBe('');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.error).toMatchObject({ code: 'upstream_stalled' });
  });
});

describe('under load', () => {
  it('200 concurrent requests, one of two deployments rate limited for 100 calls: every request answered once, none lost or mixed up', async () => {
    // The 429s are scripted (retry-after 0: no rest); everything else is the mock's echo of the request's own text.
    for (let i = 0; i < 100; i++) east.script.push(rateLimit('0'));
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await post(ask('half-limited', `request ${i}`));
        return { i, status: res.status, body: await res.json(), attempts: Number(res.headers.get('x-switchboard-attempts')) };
      }),
    );
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body.choices[0].message.content).toBe(`echo: request ${r.i}`);
    }
    const rateLimited = 100 - east.script.length;
    // Every upstream call was either one of the 429s or the one answer of one request.
    expect(east.server.requests.length + openai.server.requests.length - rateLimited).toBe(200);
    expect(results.reduce((sum, r) => sum + r.attempts, 0)).toBe(200 + rateLimited);
    const histogram: Record<number, number> = {};
    for (const r of results) histogram[r.attempts] = (histogram[r.attempts] ?? 0) + 1;
    console.log(`200 requests, ${rateLimited} upstream 429s absorbed; attempts per request: ${JSON.stringify(histogram)}`);
  });
});

describe('deployment health shared through the DEPLOYMENT_HEALTH Durable Object', () => {
  it('records a rate limit in the object, and the next request skips the resting deployment', async () => {
    const mf = new Miniflare({
      modules: true,
      scriptPath: bundlePath,
      ...wranglerSettings(),
      durableObjects: { DEPLOYMENT_HEALTH: 'DeploymentHealth' },
      bindings: {
        GATEWAY_KEYS: TEST_GATEWAY_KEY,
        MODELS: JSON.stringify({ shared: { deployments: [{ ...azure('gpt-4o-shared', east.url), name: 'east' }, { target: 'openai/gpt-4o', tier: 1 }] } }),
        ROUTING: JSON.stringify({ backoff_base_ms: 1, backoff_max_ms: 5 }),
        OPENAI_API_KEY: OPENAI_TEST_KEY,
        OPENAI_BASE_URL: `${openai.url}/v1`,
        AZURE_OPENAI_API_KEY: AZURE_TEST_KEY,
        AZURE_OPENAI_ENDPOINT: east.url,
      },
      port: 0,
    });
    try {
      const url = (await mf.ready).toString().replace(/\/$/, '');
      const send = () =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(ask('shared')),
        });
      east.script.push(rateLimit('30'));
      const first = await send();
      expect(first.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
      const object = (await mf.getDurableObjectNamespace('DEPLOYMENT_HEALTH')) as unknown as DurableObjectNamespace;
      const stub = object.get(object.idFromName('deployment-health'));
      await expect
        .poll(async () => (await (await stub.fetch('https://deployment-health/', { method: 'POST', body: '[]' })).json()) as [string, { reason?: string }][])
        .toEqual([[`azure/gpt-4o-shared|${east.url}|`, expect.objectContaining({ reason: 'retry_after' })]]);
      const second = await send();
      expect(second.headers.get('x-switchboard-deployment')).toBe('openai/gpt-4o');
      expect(second.headers.get('x-switchboard-attempts')).toBe('1');
      expect(east.server.requests).toHaveLength(1);
    } finally {
      await mf.dispose();
    }
  });
});
