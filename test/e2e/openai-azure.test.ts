import OpenAI, { AzureOpenAI } from 'openai';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, collectValidChunks, assertErrorResponse, assertModel, assertModelList } from '../helpers/schema';
import { fixtureLines } from '../upstreams/mock-server';
import { AZURE_TEST_KEY, OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// The real Worker in workerd, driven by the real openai SDK, against the OpenAI/Azure mock.

const recorded = (name: string) => readFileSync(new URL(`../../../shared/fixtures/recorded/openai/${name}`, import.meta.url), 'utf8');

let mock: OpenAIMock;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await startOpenAIMock();
  gateway = await startGateway({
    MODELS: JSON.stringify({
      'gpt-4o': { target: 'openai/gpt-4o' },
      'azure-gpt-4o': { target: 'azure/gpt-4o-eastus', api_version: '2024-10-21' },
      'azure-preview': { target: 'azure/gpt-4o-eastus', api_version: '2025-01-01-preview' },
    }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${mock.url}/v1`,
    AZURE_OPENAI_API_KEY: AZURE_TEST_KEY,
    AZURE_OPENAI_ENDPOINT: mock.url,
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

const collect = collectValidChunks;

describe('OpenAI pass-through', () => {
  it('forwards a plain request with every parameter, known or not', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hello' }],
      temperature: 0.1,
      top_p: 0.95,
      frequency_penalty: 1,
      seed: 7,
      logprobs: true,
      logit_bias: { '50256': -100 },
      // @ts-expect-error: a parameter the SDK does not know must still reach OpenAI
      some_future_param: { nested: [1, 2] },
    });
    assertChatCompletion(completion);
    expect(completion.choices[0].message.content).toBe('echo: hello');
    const sent = mock.server.last;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${OPENAI_TEST_KEY}`);
    expect(sent.body).toMatchObject({
      model: 'gpt-4o',
      temperature: 0.1,
      top_p: 0.95,
      frequency_penalty: 1,
      seed: 7,
      logprobs: true,
      logit_bias: { '50256': -100 },
      some_future_param: { nested: [1, 2] },
    });
  });

  it('maps provider/model names to the upstream model id', async () => {
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect(mock.server.last.body.model).toBe('gpt-4o-mini');
  });

  it('streams with async iteration and a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: one two three');
    expect(chunks.at(-1)?.usage?.total_tokens).toBe(17);
    expect(mock.server.last.body.stream_options).toEqual({ include_usage: true });
  });

  it('streams through the SDK stream() helper', async () => {
    const runner = client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'helper works' }] });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0].message.content).toBe('echo: helper works');
  });

  it('replays a recorded OpenAI stream byte for byte', async () => {
    const lines = fixtureLines(recorded('openai-text.chunks.txt'));
    mock.script.push({ sse: [...lines.map((data) => ({ data })), { data: '[DONE]' }] });
    // The recording ends with a usage chunk: it was made with include_usage, so the request asks for it too
    // (the gateway takes a usage chunk the client did not ask for out of the stream: README "Usage and prices").
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
    const chunks = await collect(stream);
    expect(chunks).toEqual(lines.map((l) => JSON.parse(l)));
  });

  it('ends a stream cut mid-way with an error the SDK raises', async () => {
    const lines = fixtureLines(recorded('openai-text.chunks.txt'));
    mock.script.push({ sse: lines.map((data) => ({ data })), abortAfter: 5 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const c of stream) seen.push(c);
      })(),
    ).rejects.toThrow(/OpenAI/);
    expect(seen).toHaveLength(5);
  });

  it('keeps the caller’s own 400 from OpenAI, with its param', async () => {
    mock.script.push({
      status: 400,
      body: { error: { message: "Invalid value for 'logit_bias'.", type: 'invalid_request_error', param: 'logit_bias', code: 'invalid_value' } },
    });
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error).toMatchObject({ param: 'logit_bias', code: 'invalid_value', type: 'invalid_request_error' });
    expect(body.error.message).toContain("Invalid value for 'logit_bias'.");
  });

  it('passes 429 on with retry-after', async () => {
    mock.script.push({
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: { message: 'Rate limit reached for gpt-4o', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers.get('retry-after')).toBe('7');
  });

  it('turns upstream 5xx and HTML error pages into 502 JSON', async () => {
    mock.script.push({ raw: '<html><body><h1>502 Bad Gateway</h1></body></html>', status: 500, contentType: 'text/html' });
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err.status).toBe(502);
    expect(err.error).toMatchObject({ type: 'upstream_error' });
  });

  it('reports a rejected provider key as the gateway’s problem without echoing it', async () => {
    const bad = await startGateway({ OPENAI_API_KEY: 'sk-wrong-secret-key-999999', OPENAI_BASE_URL: `${mock.url}/v1` });
    try {
      const res = await fetch(`${bad.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` },
        body: JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(res.status).toBe(502);
      const text = await res.text();
      expect(text).not.toContain('sk-wrong');
      expect(text).not.toContain('9999');
      expect(JSON.parse(text).error.code).toBe('upstream_auth_failed');
    } finally {
      await bad.close();
    }
  });
});

describe('images and parallel tool calls (pass-through)', () => {
  // A 1×1 PNG, labelled image/jpeg as benchmark clients do: OpenAI takes it as sent.
  const PNG_AS_JPEG = 'data:image/jpeg;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

  it('sends screenshots to OpenAI and Azure byte for byte', async () => {
    for (const model of ['gpt-4o', 'azure-gpt-4o']) {
      const content = [
        { type: 'text' as const, text: 'what is on screen?' },
        { type: 'image_url' as const, image_url: { url: PNG_AS_JPEG, detail: 'high' as const } },
        { type: 'image_url' as const, image_url: { url: 'https://example.com/shot.png' } },
      ];
      await client.chat.completions.create({ model, messages: [{ role: 'user', content }] });
      expect(mock.server.last.body.messages[0].content).toEqual(content);
    }
  });

  const weatherTools: OpenAI.Chat.Completions.ChatCompletionTool[] = ['get_weather', 'get_time'].map((name) => ({
    type: 'function',
    function: { name, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  }));

  /** OpenAI's stream for two parallel tool calls: each call's id and name first, then its argument fragments. */
  function parallelToolCallStream() {
    const base = { id: 'chatcmpl-tools', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_x' };
    const delta = (d: object, finish: string | null = null) => ({ data: JSON.stringify({ ...base, choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finish }] }) });
    const call = (index: number, id: string, name: string) => ({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] });
    const args = (index: number, fragment: string) => ({ tool_calls: [{ index, function: { arguments: fragment } }] });
    return [
      delta({ role: 'assistant', content: null, refusal: null }),
      delta(call(0, 'call_a', 'get_weather')),
      delta(args(0, '{"city":')),
      delta(args(0, ' "Paris"}')),
      delta(call(1, 'call_b', 'get_time')),
      delta(args(1, '{"city": "Tokyo"}')),
      delta({}, 'tool_calls'),
      { data: '[DONE]' },
    ];
  }

  it('streams parallel tool calls that the SDK stream() helper assembles', async () => {
    mock.script.push({ sse: parallelToolCallStream() });
    const runner = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'weather in Paris, time in Tokyo' }],
      tools: weatherTools,
      parallel_tool_calls: true,
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.choices[0].message.tool_calls?.map((c) => c.type === 'function' && [c.id, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['call_a', 'get_weather', { city: 'Paris' }],
      ['call_b', 'get_time', { city: 'Tokyo' }],
    ]);
    expect(mock.server.last.body).toMatchObject({ tools: weatherTools, parallel_tool_calls: true });
  });

  it('passes a tool round trip (assistant tool_calls + tool results) through unchanged', async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'weather in Paris, time in Tokyo' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"city":"Tokyo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: '18°C, sunny' },
      { role: 'tool', tool_call_id: 'call_b', content: '21:04' },
    ];
    const completion = await client.chat.completions.create({ model: 'azure-gpt-4o', messages, tools: weatherTools });
    assertChatCompletion(completion);
    expect(mock.server.last.body.messages).toEqual(messages);
  });
});

describe('Azure OpenAI', () => {
  it('calls the deployment URL with api-key and the per-deployment api-version', async () => {
    const completion = await client.chat.completions.create({ model: 'azure-preview', messages: [{ role: 'user', content: 'hi azure' }], top_k: 5 } as never);
    assertChatCompletion(completion);
    const sent = mock.server.last;
    expect(sent.path).toBe('/openai/deployments/gpt-4o-eastus/chat/completions');
    expect(sent.query.get('api-version')).toBe('2025-01-01-preview');
    expect(sent.headers['api-key']).toBe(AZURE_TEST_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body.model).toBeUndefined();
    expect(sent.body.top_k).toBe(5);
  });

  it('accepts the gateway key in an api-key header, as Azure clients send it', async () => {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'api-key': TEST_GATEWAY_KEY },
      body: JSON.stringify({ model: 'azure/gpt-4o-eastus', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(200);
    expect(mock.server.last.query.get('api-version')).toBe('2024-10-21');
  });

  it('drops Azure’s prompt-filter chunk so every chunk is an OpenAI chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'azure-gpt-4o',
      messages: [{ role: 'user', content: 'a b' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    expect(chunks.every((c) => c.id !== '')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: a b');
  });

  it('replays a recorded Azure stream', async () => {
    const lines = fixtureLines(recorded('azure-model-router.1.chunks.txt'));
    mock.script.push({ sse: [...lines.map((data) => ({ data })), { data: '[DONE]' }] });
    const chunks = await collect(
      // Recorded with include_usage (it ends with a usage chunk), so asked with it.
      await client.chat.completions.create({ model: 'azure-gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } }),
    );
    // Everything but the prompt-annotation chunk, unchanged but for Azure's null system_fingerprint.
    const expected = lines.slice(1).map((l) => {
      const { system_fingerprint, ...rest } = JSON.parse(l);
      expect(system_fingerprint).toBeNull();
      return rest;
    });
    expect(chunks).toEqual(expected);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(78);
  });
});

describe('Azure-style clients (AzureOpenAI with the gateway as its endpoint)', () => {
  const azureClient = (options: { deployment?: string; apiKey?: string } = {}) =>
    new AzureOpenAI({ endpoint: gateway.url, apiKey: options.apiKey ?? TEST_GATEWAY_KEY, apiVersion: '2024-10-21', deployment: options.deployment, maxRetries: 0 });

  it('serves /openai/deployments/{model}/chat/completions with the api-key header, plain and streamed', async () => {
    const client = azureClient();
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    assertChatCompletion(completion);
    expect(completion.choices[0].message.content).toBe('echo: hello');
    expect(mock.server.last.path).toBe('/v1/chat/completions');
    const chunks = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true }));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toContain('hi');
  });

  it('routes by the deployment in the path, not the body’s model, as Azure does', async () => {
    const completion = await azureClient({ deployment: 'azure-gpt-4o' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    assertChatCompletion(completion);
    expect(mock.server.last.path).toBe('/openai/deployments/gpt-4o-eastus/chat/completions');
    // A provider/model name: the SDK percent-encodes its slash.
    await azureClient({ deployment: 'openai/gpt-4o-mini' }).chat.completions.create({ model: 'ignored', messages: [{ role: 'user', content: 'hello' }] });
    expect(mock.server.last.path).toBe('/v1/chat/completions');
    expect(mock.server.last.body).toMatchObject({ model: 'gpt-4o-mini' });
  });

  it('lists and retrieves models under /openai', async () => {
    const client = azureClient();
    const listed = await client.models.list();
    expect(listed.data.map((m) => m.id)).toEqual(['gpt-4o', 'azure-gpt-4o', 'azure-preview']);
    expect(await client.models.retrieve('gpt-4o')).toEqual(listed.data[0]);
  });

  it('answers an unknown deployment with 404 and a wrong key with 401, reaching no upstream', async () => {
    const unknown = await azureClient({ deployment: 'no-such-model' }).chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.code).toBe('model_not_found');
    const refused = await azureClient({ apiKey: 'sk-wrong' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(mock.server.requests).toHaveLength(0);
    const wrongMethod = await fetch(`${gateway.url}/openai/deployments/gpt-4o/chat/completions`, { headers: { 'api-key': TEST_GATEWAY_KEY } });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });
});

describe('gateway surface', () => {
  it('lists configured models in OpenAI’s format', async () => {
    const res = await fetch(`${gateway.baseURL}/models`, { headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` } });
    const body = await res.json();
    assertModelList(body);
    expect(body.data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o', 'azure-gpt-4o', 'azure-preview']);
  });

  it('retrieves one model as the list shows it (models.retrieve), a provider/model name too, encoded or not', async () => {
    const listed = (await client.models.list()).data.find((m) => m.id === 'azure-gpt-4o');
    const one = await client.models.retrieve('azure-gpt-4o');
    assertModel(one);
    expect(one).toEqual(listed);
    // The SDK percent-encodes the slash; a hand-written URL may not.
    const direct = await client.models.retrieve('openai/gpt-4o-mini');
    assertModel(direct);
    expect(direct).toMatchObject({ id: 'openai/gpt-4o-mini', object: 'model', owned_by: 'openai' });
    const raw = await fetch(`${gateway.baseURL}/models/openai/gpt-4o-mini`, { headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` } });
    expect(await raw.json()).toEqual(direct);
  });

  it('answers an unknown model, or a provider with no credentials, with 404 model_not_found', async () => {
    for (const name of ['no-such-model', 'anthropic/claude-sonnet-4-6', 'nosuchprovider/x']) {
      const err = await client.models.retrieve(name).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err.code).toBe('model_not_found');
      expect(err.param).toBe('model');
      assertErrorResponse(err.error ? { error: err.error } : err);
      expect(err.message).toContain(name);
    }
  });

  it('rejects a missing or wrong gateway key with 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic abc' }] as Record<string, string>[]) {
      const res = await fetch(`${gateway.baseURL}/models`, { headers });
      expect(res.status).toBe(401);
      assertErrorResponse(await res.json());
    }
  });

  it('answers an unknown model with 404 model_not_found', async () => {
    const err = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err.status).toBe(404);
    expect(err.code).toBe('model_not_found');
    expect(mock.server.requests).toHaveLength(0);
  });
});
