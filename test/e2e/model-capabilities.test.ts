import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse } from '../helpers/schema';
import { ANTHROPIC_TEST_KEY, startAnthropicMock, type AnthropicMock } from '../upstreams/anthropic';
import { GEMINI_TEST_KEY, startGeminiMock, type GeminiMock } from '../upstreams/gemini';
import { AZURE_TEST_KEY, OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// The benchmark's request (system prompt, PNG screenshots labelled image/jpeg,
// temperature 0.1 with top_p 0.95, frequency_penalty 1, max_tokens 4000) against
// each provider's mock configured as a current model. The mocks refuse what the live
// APIs refuse for those models, so each test checks both that the request now gets
// through and what exactly reached the upstream and was reported.

type Params = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
const GIF = Buffer.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0, 0, 0]);
const SCREENSHOT = `data:image/jpeg;base64,${PNG.toString('base64')}`;

const benchmark = (model: string, extra: Partial<Params> = {}): Params => ({
  model,
  messages: [
    { role: 'system', content: 'You are a GUI agent. Answer with one action.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Next action?' },
        { type: 'image_url', image_url: { url: SCREENSHOT } },
        { type: 'image_url', image_url: { url: SCREENSHOT } },
      ],
    },
  ],
  temperature: 0.1,
  top_p: 0.95,
  frequency_penalty: 1.0,
  max_tokens: 4000,
  ...extra,
});

let openai: OpenAIMock;
let anthropic: AnthropicMock;
let gemini: GeminiMock;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  [openai, anthropic, gemini] = await Promise.all([startOpenAIMock(), startAnthropicMock(), startGeminiMock()]);
  gateway = await startGateway({
    MODELS: JSON.stringify({
      'gpt-5': { target: 'openai/gpt-5' },
      'gpt-4o': { target: 'openai/gpt-4o' },
      'azure-gpt-5': { target: 'azure/gpt-5-mini', api_version: '2025-04-01-preview' },
      'azure-prod': { target: 'azure/prod', api_version: '2025-04-01-preview', capabilities: { like: 'gpt-5', max_output_tokens: 2000 } },
      // The API version that still takes sampling parameters, so the per-model rules apply.
      'claude-sonnet-4-5': { target: 'anthropic/claude-sonnet-4-5', anthropic_version: '2023-06-01' },
      'claude-opus-4-7': { target: 'anthropic/claude-opus-4-7', anthropic_version: '2023-06-01' },
      'claude-3-5': { target: 'anthropic/claude-3-5-sonnet-20241022', anthropic_version: '2023-06-01' },
      claude: { target: 'anthropic/claude-haiku-4-5' },
      'gemini-2.5': { target: 'gemini/gemini-2.5-flash' },
      'gemini-3': { target: 'gemini/gemini-3-pro-preview' },
      'gemini-2.0': { target: 'gemini/gemini-2.0-flash' },
    }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${openai.url}/v1`,
    AZURE_OPENAI_API_KEY: AZURE_TEST_KEY,
    AZURE_OPENAI_ENDPOINT: openai.url,
    ANTHROPIC_API_KEY: ANTHROPIC_TEST_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
    GEMINI_API_KEY: GEMINI_TEST_KEY,
    GEMINI_BASE_URL: gemini.url,
  });
  client = new OpenAI({ apiKey: TEST_GATEWAY_KEY, baseURL: gateway.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
});

beforeEach(() => {
  openai.server.reset();
  anthropic.server.reset();
  gemini.server.reset();
});

const headers = (response: Response) => ({
  dropped: response.headers.get('x-switchboard-dropped-params'),
  adapted: response.headers.get('x-switchboard-adapted'),
});

describe('the mocks refuse the benchmark request as the live APIs do', () => {
  it('OpenAI gpt-5: max_tokens, temperature', async () => {
    const res = await fetch(`${openai.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPENAI_TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(benchmark('gpt-5')),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ param: 'max_tokens', code: 'unsupported_parameter' });
  });

  it('Claude Sonnet 4.5 on 2023-06-01: temperature with top_p', async () => {
    const res = await fetch(`${anthropic.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 4000, temperature: 0.1, top_p: 0.95, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBe('`temperature` and `top_p` cannot both be specified for this model. Please use only one.');
  });

  it('Gemini 2.5: penalties', async () => {
    const res = await fetch(`${gemini.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': GEMINI_TEST_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { frequencyPenalty: 1 } }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBe('Penalty is not enabled for models/gemini-2.5-flash');
  });
});

describe('the benchmark request, adapted to each current model', () => {
  it('OpenAI gpt-5: max_completion_tokens, no temperature / top_p / penalty', async () => {
    const { data, response } = await client.chat.completions.create(benchmark('gpt-5')).withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: 'temperature, top_p, frequency_penalty', adapted: 'max_tokens=max_completion_tokens' });
    const sent = openai.server.last.body;
    expect(sent).toMatchObject({ model: 'gpt-5', max_completion_tokens: 4000 });
    for (const p of ['temperature', 'top_p', 'frequency_penalty', 'max_tokens']) expect(sent).not.toHaveProperty(p);
    expect(sent.messages).toEqual(benchmark('gpt-5').messages);
  });

  it('OpenAI gpt-4o: sent as it is, and max_tokens clamped to 16384', async () => {
    const same = await client.chat.completions.create(benchmark('gpt-4o')).withResponse();
    expect(headers(same.response)).toEqual({ dropped: null, adapted: null });
    expect(openai.server.last.body).toEqual({ ...benchmark('gpt-4o'), model: 'gpt-4o' });

    const big = await client.chat.completions.create(benchmark('gpt-4o', { max_tokens: 100000 })).withResponse();
    assertChatCompletion(big.data);
    expect(headers(big.response)).toEqual({ dropped: null, adapted: 'max_tokens=16384' });
    expect(openai.server.last.body.max_tokens).toBe(16384);
  });

  it('Azure deployments: by name, or by the model configured with `like`', async () => {
    const byName = await client.chat.completions.create(benchmark('azure-gpt-5')).withResponse();
    assertChatCompletion(byName.data);
    expect(openai.server.last.path).toBe('/openai/deployments/gpt-5-mini/chat/completions');
    expect(openai.server.last.body).toMatchObject({ max_completion_tokens: 4000 });

    const configured = await client.chat.completions.create(benchmark('azure-prod')).withResponse();
    expect(headers(configured.response)).toEqual({
      dropped: 'temperature, top_p, frequency_penalty',
      adapted: 'max_tokens=max_completion_tokens, max_completion_tokens=2000',
    });
    expect(openai.server.last.body).toMatchObject({ max_completion_tokens: 2000 });
  });

  it('Claude Sonnet 4.5 (API 2023-06-01): temperature kept, top_p and the penalty dropped', async () => {
    const { data, response } = await client.chat.completions.create(benchmark('claude-sonnet-4-5')).withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: 'top_p, frequency_penalty', adapted: null });
    const sent = anthropic.server.last.body;
    expect(sent).toMatchObject({ model: 'claude-sonnet-4-5', temperature: 0.1, max_tokens: 4000, system: [{ type: 'text', text: 'You are a GUI agent. Answer with one action.' }] });
    expect(sent).not.toHaveProperty('top_p');
    // The screenshots as PNG, whatever their label said.
    expect(sent.messages[0].content.filter((b: any) => b.type === 'image').map((b: any) => b.source.media_type)).toEqual(['image/png', 'image/png']);
  });

  it('Claude Opus 4.7 (API 2023-06-01): no sampling parameters at all', async () => {
    const { data, response } = await client.chat.completions.create(benchmark('claude-opus-4-7', { max_tokens: 200000 })).withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: 'temperature, top_p, frequency_penalty', adapted: 'max_tokens=128000' });
    const sent = anthropic.server.last.body;
    expect(sent).toMatchObject({ max_tokens: 128000 });
    expect(sent).not.toHaveProperty('temperature');
    expect(sent).not.toHaveProperty('top_p');
  });

  it('Claude 3.5 (API 2023-06-01): both sampling parameters, max_tokens clamped to 8192', async () => {
    const { response } = await client.chat.completions.create(benchmark('claude-3-5', { max_tokens: 10000 })).withResponse();
    expect(headers(response)).toEqual({ dropped: 'frequency_penalty', adapted: 'max_tokens=8192' });
    expect(anthropic.server.last.body).toMatchObject({ temperature: 0.1, top_p: 0.95, max_tokens: 8192 });
  });

  it('Claude Haiku 4.5 (API 2026-10-21): the API version drops the rest', async () => {
    const { data, response } = await client.chat.completions.create(benchmark('claude')).withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: 'top_p, frequency_penalty, temperature', adapted: null });
  });

  it.each([
    ['gemini-2.5', 'gemini-2.5-flash'],
    ['gemini-3', 'gemini-3-pro-preview'],
  ])('Gemini %s: no penalty, the rest as sent', async (name, model) => {
    const { data, response } = await client.chat.completions.create(benchmark(name)).withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: 'frequency_penalty', adapted: null });
    const sent = gemini.server.last;
    expect(sent.path).toBe(`/v1beta/models/${model}:generateContent`);
    expect(sent.body.generationConfig).toEqual({ temperature: 0.1, topP: 0.95, maxOutputTokens: 4000 });
    expect(sent.body.contents[0].parts.filter((p: any) => p.inlineData).map((p: any) => p.inlineData.mimeType)).toEqual(['image/png', 'image/png']);
  });

  it('Gemini 2.0: the penalty passes; maxOutputTokens clamped to 8192', async () => {
    const { response } = await client.chat.completions.create(benchmark('gemini-2.0', { max_tokens: 10000 })).withResponse();
    expect(headers(response)).toEqual({ dropped: null, adapted: 'max_tokens=8192' });
    expect(gemini.server.last.body.generationConfig).toEqual({ temperature: 0.1, topP: 0.95, frequencyPenalty: 1, maxOutputTokens: 8192 });
  });
});

describe('reasoning_effort', () => {
  it.each([
    ['gemini-2.5', 'low', { thinkingBudget: 1024, includeThoughts: true }, null],
    ['gemini-3', 'medium', { thinkingLevel: 'high', includeThoughts: true }, 'reasoning_effort=high'],
  ])('%s, %s → thinkingConfig %j, thoughts as reasoning_content', async (name, effort, thinkingConfig, adapted) => {
    const { data, response } = await client.chat.completions
      .create({ model: name, messages: [{ role: 'user', content: 'think' }], reasoning_effort: effort as 'low' })
      .withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: null, adapted });
    expect(gemini.server.last.body.generationConfig).toEqual({ thinkingConfig });
    const message = data.choices[0].message as typeof data.choices[0]['message'] & { reasoning_content?: string };
    expect(message.content).toBe('echo: think');
    expect(message.reasoning_content).toBe('Thinking about: think');
    expect(data.usage?.completion_tokens_details?.reasoning_tokens).toBe(3);
  });

  it('streams the thoughts as delta.reasoning_content before the answer', async () => {
    const stream = await client.chat.completions.create({
      model: 'gemini-2.5',
      messages: [{ role: 'user', content: 'think hard' }],
      reasoning_effort: 'high',
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: { content?: string | null; reasoning_content?: string }[] = [];
    let reasoningTokens: number | undefined;
    for await (const chunk of stream) {
      if (chunk.choices[0]) deltas.push(chunk.choices[0].delta as (typeof deltas)[number]);
      if (chunk.usage) reasoningTokens = chunk.usage.completion_tokens_details?.reasoning_tokens;
    }
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe('Thinking about: think hard');
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('echo: think hard');
    expect(deltas.findIndex((d) => d.reasoning_content)).toBeLessThan(deltas.findIndex((d) => d.content));
    expect(reasoningTokens).toBe(4);
  });

  it('"none" turns thinking off without asking for thoughts', async () => {
    await client.chat.completions.create({ model: 'gemini-2.5', messages: [{ role: 'user', content: 'quick' }], reasoning_effort: 'none' as 'low' });
    expect(gemini.server.last.body.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
  });

  it('is dropped, and named, for models without it', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'gemini-2.0', messages: [{ role: 'user', content: 'think' }], reasoning_effort: 'low' })
      .withResponse();
    expect(headers(response)).toEqual({ dropped: 'reasoning_effort', adapted: null });
    expect(gemini.server.last.body.generationConfig).toBeUndefined();
  });
});

describe('images a model cannot take', () => {
  const withImage = (model: string, url: string): Params => ({
    model,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url } }] }],
  });

  it('a GIF for Gemini: 400 naming the image and the formats, before any upstream call', async () => {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(withImage('gemini-2.5', `data:image/gif;base64,${GIF.toString('base64')}`)),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error).toMatchObject({ param: 'messages[0].content[1].image_url.url', code: 'unsupported_image_format' });
    expect(body.error.message).toContain('PNG, JPEG, WebP, HEIC, HEIF');
    expect(gemini.server.requests).toHaveLength(0);
  });

  it('the same GIF for Claude goes through', async () => {
    const { data } = await client.chat.completions.create(withImage('claude', `data:image/gif;base64,${GIF.toString('base64')}`)).withResponse();
    assertChatCompletion(data);
    expect(anthropic.server.last.body.messages[0].content[1].source.media_type).toBe('image/gif');
  });

  it('an image over Claude’s 5 MB: 400 with the limit', async () => {
    const big = `data:image/png;base64,${PNG.toString('base64')}${'A'.repeat(7_000_000)}`;
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(withImage('claude', big)),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error).toMatchObject({ param: 'messages[0].content[1].image_url.url', code: 'image_too_large' });
    expect(body.error.message).toContain('5242880 bytes');
    expect(anthropic.server.requests).toHaveLength(0);
  });
});

describe('strict mode (x-switchboard-strict: true)', () => {
  it('refuses, with a 400 naming each change, what it would otherwise adapt — before any upstream call', async () => {
    gemini.server.reset();
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json', 'x-switchboard-strict': 'true' },
      body: JSON.stringify(benchmark('gemini-2.5')),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error.message).toContain('frequency_penalty');
    expect(gemini.server.requests).toHaveLength(0);
  });

  it('lets through a request that needs no change', async () => {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json', 'x-switchboard-strict': 'true' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0.1 }),
    });
    expect(res.status).toBe(200);
    assertChatCompletion(await res.json());
  });
});
