import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse } from '../helpers/schema';
import { OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// Bad input against the real Worker in workerd: every answer is OpenAI's error object,
// JSON, with the right status and the parameter named, and carries an x-request-id.

const MAX_BODY_BYTES = 4096;
const MAX_IMAGE_BYTES = 600;
const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

let mock: OpenAIMock;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await startOpenAIMock();
  gateway = await startGateway({
    MODELS: JSON.stringify({ 'gpt-4o': { target: 'openai/gpt-4o' }, 'azure-down': { target: 'azure/gpt-4o' } }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${mock.url}/v1`,
    // Azure configured, but nothing listens there: the upstream is unreachable.
    AZURE_OPENAI_API_KEY: 'azure-key-0123456789',
    AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9',
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES),
  });
  client = new OpenAI({ apiKey: TEST_GATEWAY_KEY, baseURL: gateway.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

beforeEach(() => {
  mock.server.reset();
  mock.script.length = 0;
});

const auth = { authorization: `Bearer ${TEST_GATEWAY_KEY}` };
const ok = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...extra });

function post(body: unknown, headers: Record<string, string> = auth, url = `${gateway.baseURL}/chat/completions`) {
  return fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Checks everything every error response must have; returns the error object. */
async function expectError(res: Response, status: number, expected: { param?: string | null; code?: string | null; type?: string } = {}) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('x-request-id')).toBeTruthy();
  const body = JSON.parse(text);
  assertErrorResponse(body);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject(expected);
  if (expected.param) expect(body.error.message).toContain(expected.param);
  expect(text).not.toMatch(/at \w+ \(|\.ts:\d+|Error: /); // no stack traces
  return body.error as { message: string; type: string; param: string | null; code: string | null };
}

describe('malformed bodies', () => {
  it.each([
    ['invalid JSON', '{"model": "gpt-4o", messages: []}'],
    ['truncated JSON', '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"'],
    ['an empty body', ''],
    ['NaN', '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":NaN}'],
  ])('%s → 400 invalid_json', async (_name, body) => {
    await expectError(await post(body), 400, { type: 'invalid_request_error', param: null, code: 'invalid_json' });
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"hello"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('%s as the body → 400 invalid_type', async (_name, body) => {
    await expectError(await post(body), 400, { param: null, code: 'invalid_type' });
  });

  it.each([
    ['missing model', { messages: [{ role: 'user', content: 'x' }] }, 'model', 'missing_required_parameter'],
    ['model a number', ok({ model: 4 }), 'model', 'invalid_type'],
    ['missing messages', { model: 'gpt-4o' }, 'messages', 'missing_required_parameter'],
    ['messages a string', ok({ messages: 'hi' }), 'messages', 'invalid_type'],
    ['empty messages', ok({ messages: [] }), 'messages', 'empty_array'],
    ['a message without role', ok({ messages: [{ content: 'x' }] }), 'messages[0].role', 'missing_required_parameter'],
    ['content a number', ok({ messages: [{ role: 'user', content: 1 }] }), 'messages[0].content', 'invalid_type'],
    ['temperature a string', ok({ temperature: '0.2' }), 'temperature', 'invalid_type'],
    ['temperature out of range', ok({ temperature: 3 }), 'temperature', 'invalid_value'],
    ['top_p 1e400', '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"top_p":1e400}', 'top_p', 'invalid_value'],
    ['max_tokens fractional', ok({ max_tokens: 10.5 }), 'max_tokens', 'invalid_type'],
    ['stream a string', ok({ stream: 'yes' }), 'stream', 'invalid_type'],
    ['a tool name with spaces', ok({ tools: [{ type: 'function', function: { name: 'get weather' } }] }), 'tools[0].function.name', 'invalid_value'],
    ['tool_choice naming no tool', ok({ tool_choice: { type: 'function', function: { name: 'f' } } }), 'tool_choice', 'invalid_value'],
    ['response_format unknown', ok({ response_format: { type: 'yaml' } }), 'response_format.type', 'invalid_value'],
  ])('%s → 400', async (_name, body, param, code) => {
    await expectError(await post(body), 400, { type: 'invalid_request_error', param, code });
    expect(mock.server.requests).toHaveLength(0);
  });

  it('raises the SDK’s BadRequestError with the param', async () => {
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('messages');
    expect(err.code).toBe('empty_array');
  });
});

describe('images', () => {
  const withImage = (url: string) => ok({ messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url } }] }] });
  const param = 'messages[0].content[1].image_url.url';

  it.each([
    ['a data: URL without a comma', 'data:image/png;base64'],
    ['a data: URL that is not base64', 'data:image/png,%89PNG'],
    ['an empty payload', 'data:image/png;base64,'],
    ['a file path', '/home/me/screen.png'],
  ])('%s → 400 invalid_image_url', async (_name, url) => {
    await expectError(await post(withImage(url)), 400, { param, code: 'invalid_image_url' });
    expect(mock.server.requests).toHaveLength(0);
  });

  it('refuses an image over MAX_IMAGE_BYTES with 413, naming it', async () => {
    const big = `data:image/png;base64,${PNG_1PX.slice(0, -2)}${'A'.repeat(800)}`;
    const error = await expectError(await post(withImage(big)), 413, { type: 'invalid_request_error', param, code: 'request_too_large' });
    expect(error.message).toContain(`${MAX_IMAGE_BYTES} bytes`);
    expect(mock.server.requests).toHaveLength(0);
  });

  it('passes a valid image, labelled or not, through to OpenAI untouched', async () => {
    const url = `data:image/jpeg;base64,${PNG_1PX}`;
    const res = await post(withImage(url));
    expect(res.status).toBe(200);
    assertChatCompletion(await res.json());
    expect(mock.server.last.body.messages[0].content[1].image_url.url).toBe(url);
  });
});

describe('body size', () => {
  const oversized = () => JSON.stringify(ok({ messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY_BYTES) }] }));

  it('refuses a body over MAX_BODY_BYTES by its content-length with 413', async () => {
    const error = await expectError(await post(oversized()), 413, { code: 'request_too_large' });
    expect(error.message).toContain(String(MAX_BODY_BYTES));
  });

  function chunked(text: string, pieceSize = 512): RequestInit {
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(offset, (offset += pieceSize)));
      },
    });
    return { method: 'POST', headers: auth, body, duplex: 'half' } as RequestInit;
  }

  it('refuses a chunked body over MAX_BODY_BYTES (no content-length) with 413', async () => {
    await expectError(await fetch(`${gateway.baseURL}/chat/completions`, chunked(oversized())), 413, { code: 'request_too_large' });
    expect(mock.server.requests).toHaveLength(0);
  });

  it('lets a client that uploads far more than the limit read the 413 (no connection reset)', async () => {
    // Answering before the upload ends would reset the connection; the SDK would retry it as a network error.
    const huge = JSON.stringify(ok({ messages: [{ role: 'user', content: 'x'.repeat(8 * 1024 * 1024) }] }));
    await expectError(await post(huge), 413, { code: 'request_too_large' });
    await expectError(await fetch(`${gateway.baseURL}/chat/completions`, chunked(huge, 64 * 1024)), 413, { code: 'request_too_large' });
    const sdk = await client.chat.completions.create(JSON.parse(huge)).catch((e) => e);
    expect(sdk).toBeInstanceOf(OpenAI.APIError);
    expect(sdk.status).toBe(413);
  });

  it('reads a chunked body under the limit, multi-byte characters split across pieces', async () => {
    const text = JSON.stringify(ok({ messages: [{ role: 'user', content: 'héllo 😀 世界 '.repeat(40) }] }));
    const res = await fetch(`${gateway.baseURL}/chat/completions`, chunked(text, 7));
    expect(res.status).toBe(200);
    expect(mock.server.last.body.messages[0].content).toBe('héllo 😀 世界 '.repeat(40));
  });
});

describe('routing and providers', () => {
  it('answers an unknown model with 404 model_not_found', async () => {
    await expectError(await post(ok({ model: 'no-such-model' })), 404, { param: 'model', code: 'model_not_found' });
    await expectError(await post(ok({ model: 'mistral/large' })), 404, { param: 'model', code: 'model_not_found' });
    expect(mock.server.requests).toHaveLength(0);
  });

  it('answers a streaming request that fails before it starts with JSON, not SSE', async () => {
    await expectError(await post(ok({ model: 'no-such-model', stream: true })), 404, { code: 'model_not_found' });
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    await expectError(await post(ok({ model: 'azure-down' })), 502, { type: 'upstream_error', code: 'upstream_unreachable' });
  });

  it('answers 503 for a provider without credentials', async () => {
    const bare = await startGateway({ OPENAI_BASE_URL: `${mock.url}/v1` });
    try {
      const error = await expectError(await post(ok({ model: 'openai/gpt-4o' }), auth, `${bare.baseURL}/chat/completions`), 503, {
        type: 'server_error',
        code: 'provider_not_configured',
      });
      expect(error.message).toContain('openai');
      expect(mock.server.requests).toHaveLength(0);
    } finally {
      await bare.close();
    }
  });

  it('names a broken MODELS configuration instead of failing anonymously', async () => {
    const broken = await startGateway({ MODELS: 'null', OPENAI_API_KEY: OPENAI_TEST_KEY, OPENAI_BASE_URL: `${mock.url}/v1` });
    try {
      const error = await expectError(await post(ok(), auth, `${broken.baseURL}/chat/completions`), 500, { code: 'gateway_misconfigured' });
      expect(error.message).toContain('MODELS');
      await expectError(await fetch(`${broken.baseURL}/models`, { headers: auth }), 500, { code: 'gateway_misconfigured' });
    } finally {
      await broken.close();
    }
  });
});

describe('endpoints, methods and keys', () => {
  it.each([
    ['POST', '/v1/completions'],
    ['GET', '/v1/chat'],
    ['POST', '/v1/embeddings'],
    ['GET', '/'],
    ['GET', '/v2/chat/completions'],
  ])('%s %s → 404 unknown_url', async (method, path) => {
    const error = await expectError(await fetch(`${gateway.url}${path}`, { method, headers: auth, body: method === 'POST' ? '{}' : undefined }), 404, {
      code: 'unknown_url',
    });
    expect(error.message).toContain(path);
  });

  it.each([
    ['GET', '/v1/chat/completions', 'POST', '/v1/chat/completions'],
    ['PUT', '/v1/chat/completions', 'POST', '/v1/chat/completions'],
    ['DELETE', '/v1/models', 'GET', '/v1/models'],
    ['POST', '/v1/models', 'GET', '/v1/models'],
    ['DELETE', '/v1/models/gpt-4o', 'GET', '/v1/models/{model}'],
    ['GET', '/openai/deployments/gpt-4o/chat/completions', 'POST', '/openai/deployments/{deployment}/chat/completions'],
  ])('%s %s → 405, allow %s', async (method, path, allowed, shown) => {
    const res = await fetch(`${gateway.url}${path}`, { method, headers: auth, body: ['POST', 'PUT'].includes(method) ? JSON.stringify(ok()) : undefined });
    expect(res.headers.get('allow')).toBe(allowed);
    const error = await expectError(res, 405, { code: 'method_not_allowed' });
    expect(error.message).toBe(`${method} is not allowed on ${shown}; use ${allowed}.`);
    expect(mock.server.requests).toHaveLength(0);
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { authorization: 'Bearer sk-wrong' }],
    ['Basic auth', { authorization: `Basic ${btoa(`user:${TEST_GATEWAY_KEY}`)}` }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
    ['a wrong api-key', { 'api-key': 'nope' }],
  ] as [string, Record<string, string>][])('%s → 401', async (_name, headers) => {
    const res = await post(ok(), headers);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    await expectError(res, 401, { type: 'authentication_error', code: 'invalid_api_key' });
    expect(mock.server.requests).toHaveLength(0);
  });

  it('checks the key before anything else (even for unknown endpoints)', async () => {
    await expectError(await fetch(`${gateway.baseURL}/embeddings`, { method: 'POST', body: '{' }), 401);
    await expectError(await post('not json', {}), 401);
  });

  it('raises the SDK’s AuthenticationError for a wrong key', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: gateway.baseURL, maxRetries: 0 });
    await expect(wrong.chat.completions.create(ok() as never)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('x-request-id', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it('echoes the client’s id on success and on every kind of error', async () => {
    const responses = await Promise.all([
      post(ok(), { ...auth, 'x-request-id': 'req-ok' }),
      post('{', { ...auth, 'x-request-id': 'req-400' }),
      post(ok(), { 'x-request-id': 'req-401' }),
      post(ok({ model: 'nope' }), { ...auth, 'x-request-id': 'req-404' }),
      fetch(`${gateway.baseURL}/nothing`, { headers: { ...auth, 'x-request-id': 'req-404-url' } }),
      fetch(`${gateway.baseURL}/chat/completions`, { headers: { ...auth, 'x-request-id': 'req-405' } }),
    ]);
    expect(responses.map((r) => r.headers.get('x-request-id'))).toEqual(['req-ok', 'req-400', 'req-401', 'req-404', 'req-404-url', 'req-405']);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
  });

  it('generates one when the client sends none (or an empty one)', async () => {
    for (const headers of [auth, { ...auth, 'x-request-id': '' }]) {
      for (const res of [await post(ok(), headers), await post('{', headers), await post(ok(), {})]) {
        expect(res.headers.get('x-request-id')).toMatch(UUID);
        await res.arrayBuffer();
      }
    }
  });

  it('truncates an overlong client id', async () => {
    const res = await post(ok(), { ...auth, 'x-request-id': 'r'.repeat(1000) });
    expect(res.headers.get('x-request-id')).toBe('r'.repeat(128));
    await res.arrayBuffer();
  });

  it('puts the id on streamed responses too', async () => {
    const res = await post(ok({ stream: true }), { ...auth, 'x-request-id': 'req-stream' });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-request-id')).toBe('req-stream');
    expect(await res.text()).toContain('data: [DONE]');
  });
});
