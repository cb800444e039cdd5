import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse } from '../helpers/schema';
import { errorBody, startAnthropicMock, type AnthropicMock } from '../upstreams/anthropic';
import { GEMINI_TEST_KEY, startGeminiMock, type GeminiMock } from '../upstreams/gemini';
import { OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// Several credentials per provider in the real Worker: two Anthropic keys (one mock that
// accepts both and records which one each request carried) and Azure deployments in two
// regions (two mocks, each accepting only its own key). Requests spread over them; one
// that answers 429 with retry-after rests for that long while the other serves. The
// rest is 1 s: the test waits it out, and asserts only on which credential served.

const KEY_A = 'sk-ant-api03-key-A-0123456789abcdefghij';
const KEY_B = 'sk-ant-api03-key-B-0123456789abcdefghij';
const EAST_KEY = 'azure-east-key-0123456789abcdef';
const WEST_KEY = 'azure-west-key-0123456789abcdef';
const REVOKED_OPENAI_KEY = 'sk-proj-revoked-0123456789abcdefghij';
const SECRETS = [KEY_A, KEY_B, EAST_KEY, WEST_KEY, REVOKED_OPENAI_KEY, OPENAI_TEST_KEY, GEMINI_TEST_KEY];

let anthropic: AnthropicMock;
let east: OpenAIMock;
let west: OpenAIMock;
let openai: OpenAIMock;
let gemini: GeminiMock;
let gateway: Gateway;

beforeAll(async () => {
  [anthropic, east, west, openai, gemini] = await Promise.all([
    startAnthropicMock({ keys: [KEY_A, KEY_B] }),
    startOpenAIMock({ azureKeys: [EAST_KEY] }),
    startOpenAIMock({ azureKeys: [WEST_KEY] }),
    startOpenAIMock(),
    startGeminiMock(),
  ]);
  gateway = await startGateway({
    MODELS: JSON.stringify({
      claude: { target: 'anthropic/claude-sonnet-4-5', api_key_secrets: ['ANTHROPIC_KEY_A', 'ANTHROPIC_KEY_B'] },
      'claude-csv': { target: 'anthropic/claude-haiku-4-5', api_key_secrets: 'ANTHROPIC_KEY_A,ANTHROPIC_KEY_B' },
      'gpt-4o': {
        deployments: [
          { target: 'azure/gpt-4o', name: 'eastus', endpoint: east.url, api_key_secret: 'AZURE_EAST_KEY' },
          { target: 'azure/gpt-4o', name: 'westeurope', endpoint: west.url, api_key_secret: 'AZURE_WEST_KEY' },
        ],
      },
      'missing-key': { target: 'anthropic/claude-sonnet-4-5', api_key_secrets: ['ANTHROPIC_KEY_A', 'ANTHROPIC_KEY_NOT_SET'] },
      // OpenAI and Gemini: no default key set, so only the deployment's own secret (and base_url) can serve.
      'gpt-own-key': { target: 'openai/gpt-4o', api_key_secret: 'OPENAI_PROJECT_B', base_url: `${openai.url}/v1` },
      'gpt-wrong-key': { target: 'openai/gpt-4o-mini', api_key_secret: 'OPENAI_REVOKED', base_url: `${openai.url}/v1` },
      'gemini-own-key': { target: 'gemini/gemini-2.5-flash', api_key_secret: 'GEMINI_PROJECT_B', base_url: gemini.url },
    }),
    ROUTING: JSON.stringify({ retries: 2, backoff_base_ms: 1, backoff_max_ms: 5, cooldown_failures: 100 }),
    ANTHROPIC_KEY_A: KEY_A,
    ANTHROPIC_KEY_B: KEY_B,
    ANTHROPIC_BASE_URL: anthropic.url,
    AZURE_EAST_KEY: EAST_KEY,
    AZURE_WEST_KEY: WEST_KEY,
    OPENAI_PROJECT_B: OPENAI_TEST_KEY,
    OPENAI_REVOKED: REVOKED_OPENAI_KEY,
    GEMINI_PROJECT_B: GEMINI_TEST_KEY,
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([anthropic?.close(), east?.close(), west?.close(), openai?.close(), gemini?.close()]);
});

beforeEach(() => {
  anthropic.server.reset();
  anthropic.script.length = 0;
  for (const m of [east, west]) {
    m.server.reset();
    m.script.length = 0;
  }
});

async function ask(model: string, text = 'hi') {
  const res = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 20, messages: [{ role: 'user', content: text }] }),
  });
  const body = await res.text();
  const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  for (const secret of SECRETS) {
    expect(body).not.toContain(secret);
    expect(headers).not.toContain(secret);
  }
  return { res, body: JSON.parse(body) };
}

/** The key each request carried (the SDK sends it as x-api-key or as a bearer token). */
const keysSeen = () => anthropic.server.requests.map((r) => r.headers['x-api-key'] ?? r.headers.authorization?.replace(/^Bearer /, ''));
const rateLimited = () => ({ status: 429, headers: { 'retry-after': '1' }, body: errorBody('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit') });
const azureRateLimited = () => ({
  status: 429,
  headers: { 'retry-after': '1' },
  body: { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second.' } },
});
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two Anthropic keys', () => {
  it('spreads requests over both keys, each deployment named by its secret (never its value)', async () => {
    const labels = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const { res, body } = await ask('claude', `n${i}`);
      expect(res.status).toBe(200);
      assertChatCompletion(body);
      labels.add(res.headers.get('x-switchboard-deployment')!);
    }
    expect(new Set(keysSeen())).toEqual(new Set([KEY_A, KEY_B]));
    expect(labels).toEqual(new Set(['anthropic/claude-sonnet-4-5#ANTHROPIC_KEY_A', 'anthropic/claude-sonnet-4-5#ANTHROPIC_KEY_B']));
  });

  it('a comma-separated api_key_secrets works the same', async () => {
    for (let i = 0; i < 20; i++) expect((await ask('claude-csv')).res.status).toBe(200);
    expect(new Set(keysSeen())).toEqual(new Set([KEY_A, KEY_B]));
  });

  it('a key that answered 429 rests for its retry-after while the other serves, then serves again', async () => {
    anthropic.script.push(rateLimited());
    const first = await ask('claude', 'first');
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get('x-switchboard-attempts')).toBe('2');
    const [limited, served] = keysSeen();
    expect(served).not.toBe(limited);

    anthropic.server.reset();
    for (let i = 0; i < 12; i++) expect((await ask('claude', `rest${i}`)).res.status).toBe(200);
    expect(new Set(keysSeen())).toEqual(new Set([served]));

    await pause(1100); // the rest ends
    anthropic.server.reset();
    for (let i = 0; i < 40 && !keysSeen().includes(limited); i++) expect((await ask('claude', `after${i}`)).res.status).toBe(200);
    expect(keysSeen()).toContain(limited);
  });

  it('a deployment whose secret is not set is skipped; the other key serves', async () => {
    for (let i = 0; i < 8; i++) {
      const { res } = await ask('missing-key');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchboard-deployment')).toBe('anthropic/claude-sonnet-4-5#ANTHROPIC_KEY_A');
    }
    expect(new Set(keysSeen())).toEqual(new Set([KEY_A]));
  });
});

describe('Azure deployments in two regions', () => {
  it('spreads requests over both regions, each called with its own key', async () => {
    for (let i = 0; i < 30; i++) expect((await ask('gpt-4o', `n${i}`)).res.status).toBe(200);
    expect(east.server.requests.length).toBeGreaterThan(0);
    expect(west.server.requests.length).toBeGreaterThan(0);
    expect(new Set(east.server.requests.map((r) => r.headers['api-key']))).toEqual(new Set([EAST_KEY]));
    expect(new Set(west.server.requests.map((r) => r.headers['api-key']))).toEqual(new Set([WEST_KEY]));
  });

  it('a region that answered 429 rests for its retry-after while the other serves', async () => {
    const [limited, serving] = [east, west];
    limited.script.push(azureRateLimited());
    // Until a request reaches east: that one is refused there and served by west.
    for (let i = 0; i < 40 && limited.server.requests.length === 0; i++) {
      const { res } = await ask('gpt-4o', `first${i}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchboard-deployment')).toBe('westeurope');
    }
    expect(limited.server.requests).toHaveLength(1);
    serving.server.reset();
    limited.server.reset();

    for (let i = 0; i < 12; i++) {
      const { res } = await ask('gpt-4o', `rest${i}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchboard-deployment')).toBe('westeurope');
    }
    expect(limited.server.requests).toHaveLength(0);
    expect(serving.server.requests).toHaveLength(12);

    await pause(1100);
    for (let i = 0; i < 40 && limited.server.requests.length === 0; i++) expect((await ask('gpt-4o', `after${i}`)).res.status).toBe(200);
    expect(limited.server.requests.length).toBeGreaterThan(0);
  });

  it('both regions resting, with retries left: a 429 naming the wait', async () => {
    east.script.push(azureRateLimited(), azureRateLimited());
    west.script.push(azureRateLimited(), azureRateLimited());
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json', 'x-switchboard-retries': '1' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(429);
    assertErrorResponse(await res.json());
    expect(res.headers.get('retry-after')).toBe('1');
    await pause(1100);
  });
});

describe('every provider takes a deployment’s own key', () => {
  it('OpenAI: api_key_secret and base_url of the deployment', async () => {
    const { res, body } = await ask('gpt-own-key');
    expect(res.status).toBe(200);
    assertChatCompletion(body);
    expect(openai.server.last.headers.authorization).toBe(`Bearer ${OPENAI_TEST_KEY}`);
  });

  it('OpenAI: a rejected key is a 502 that names neither the key nor any part of it', async () => {
    const { res, body } = await ask('gpt-wrong-key');
    expect(res.status).toBe(502);
    assertErrorResponse(body);
    expect(body.error.code).toBe('upstream_auth_failed');
    expect(JSON.stringify(body)).not.toContain(REVOKED_OPENAI_KEY.slice(-4));
  });

  it('Gemini: api_key_secret and base_url of the deployment', async () => {
    const { res, body } = await ask('gemini-own-key');
    expect(res.status).toBe(200);
    assertChatCompletion(body);
    expect(gemini.server.last.headers['x-goog-api-key']).toBe(GEMINI_TEST_KEY);
  });
});
