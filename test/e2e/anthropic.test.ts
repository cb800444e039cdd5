import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertChatCompletionChunk, collectValidChunks, assertErrorResponse, assertModelList } from '../helpers/schema';
import { fixtureLines } from '../upstreams/mock-server';
import {
  ANTHROPIC_TEST_KEY,
  RECORDED_FIXTURES,
  completeMessage,
  errorBody,
  messageEvents,
  recordedAnthropic,
  startAnthropicMock,
  type AnthropicMock,
} from '../upstreams/anthropic';

// The real Worker in workerd, driven by the real openai SDK, against the Anthropic mock
// (which the Worker reaches through the real @anthropic-ai/sdk).

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

// A real 1×1 PNG.
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

let mock: AnthropicMock;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await startAnthropicMock();
  gateway = await startGateway({
    MODELS: JSON.stringify({
      claude: { target: 'anthropic/claude-sonnet-4-5' },
      'claude-legacy': { target: 'anthropic/claude-3-5-haiku-20241022', anthropic_version: '2023-06-01', default_max_tokens: 1000 },
      'claude-misconfigured': { target: 'anthropic/claude-sonnet-4-5', anthropic_version: '2024-01-01' },
    }),
    ANTHROPIC_API_KEY: ANTHROPIC_TEST_KEY,
    ANTHROPIC_BASE_URL: mock.url,
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

const contentOf = (chunks: Chunk[], index = 0) =>
  chunks.map((c) => c.choices.find((choice) => choice.index === index)?.delta.content ?? '').join('');

async function post(body: unknown, url = gateway.baseURL) {
  return fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('plain requests', () => {
  it('translates the request, answers in OpenAI’s format and names what it dropped', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'claude',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hello there' },
        ],
        max_tokens: 50,
        temperature: 0.2,
        frequency_penalty: 0.5,
        seed: 7,
        stop: ['END'],
        user: 'user-1',
      })
      .withResponse();
    assertChatCompletion(data);
    expect(data.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'echo: hello there' } });
    expect(data.model).toBe('claude-sonnet-4-5');
    expect(data.id).toMatch(/^chatcmpl-msg_01Mock/);
    expect(data.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: 3 });
    expect(response.headers.get('x-switchboard-dropped-params')).toBe('frequency_penalty, temperature, seed');

    const sent = mock.server.last;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers.authorization).toBe(`Bearer ${ANTHROPIC_TEST_KEY}`);
    expect(sent.headers['anthropic-version']).toBe('2026-10-21');
    expect(sent.headers['x-stainless-retry-count']).toBe('0');
    expect(sent.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }],
      system: [{ type: 'text', text: 'Be brief.' }],
      stop_sequences: ['END'],
      metadata: { user_id: 'user-1' },
      stream: false,
    });
  });

  it('uses the deployment’s API version, default max_tokens and the temperature rule', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'claude-legacy', messages: [{ role: 'user', content: 'hi' }], temperature: 1.6, top_p: 0.9 })
      .withResponse();
    assertChatCompletion(data);
    expect(response.headers.get('x-switchboard-adapted')).toBe('temperature=1');
    expect(response.headers.get('x-switchboard-dropped-params')).toBeNull();
    const sent = mock.server.last;
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.body).toMatchObject({ model: 'claude-3-5-haiku-20241022', max_tokens: 1000, temperature: 1, top_p: 0.9 });
  });

  it('uses the per-family max_tokens for provider/model names', async () => {
    await client.chat.completions.create({ model: 'anthropic/claude-3-5-sonnet-20241022', messages: [{ role: 'user', content: 'x' }] });
    expect(mock.server.last.body.max_tokens).toBe(8192);
  });

  it('reports a truncated answer as finish_reason length', async () => {
    const completion = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'one two three four' }], max_tokens: 2 });
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'echo: one ' } });
  });

  it('lists configured Claude models', async () => {
    const res = await fetch(`${gateway.baseURL}/models`, { headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` } });
    const body = await res.json();
    assertModelList(body);
    expect(body.data.map((m: { id: string; owned_by: string }) => [m.id, m.owned_by])).toEqual([
      ['claude', 'anthropic'],
      ['claude-legacy', 'anthropic'],
      ['claude-misconfigured', 'anthropic'],
    ]);
  });
});

describe('streaming', () => {
  it('streams with async iteration and a final usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    expect(contentOf(chunks)).toBe('echo: one two three');
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 4 } });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(mock.server.last.body.stream).toBe(true);
  });

  it('streams through the SDK stream() helper', async () => {
    const runner = client.chat.completions.stream({ model: 'claude', messages: [{ role: 'user', content: 'helper works' }] });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0].message.content).toBe('echo: helper works');
    expect(final.choices[0].finish_reason).toBe('stop');
  });

  it('stops the Anthropic stream when the client goes away', async () => {
    const before = mock.abandonedStreams;
    const long = completeMessage({ content: [{ type: 'text', text: 'word '.repeat(400) }] }, 'claude-sonnet-4-5');
    mock.script.push({ events: messageEvents(long), delayMs: 5 });
    const stream = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], stream: true });
    let received = 0;
    for await (const _ of stream) if (++received === 3) break;
    // Polled until the mock sees its connection closed (the timeout only guards a hang).
    await vi.waitFor(() => expect(mock.abandonedStreams).toBe(before + 1), { timeout: 10_000, interval: 20 });
  });

  it('keeps Unicode split inside characters across network reads intact', async () => {
    const text = 'Grüße aus Köln 🌍 — 你好，世界 ✓';
    mock.script.push({ message: { content: [{ type: 'text', text }] } });
    const stream = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(contentOf(await collect(stream))).toBe(text);
  });
});

describe('images', () => {
  it('sends data: URLs with the media type of their bytes, and http(s) URLs as URL sources', async () => {
    const completion = await client.chat.completions.create({
      model: 'claude',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'compare' },
            { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG_B64}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/screenshot.png' } },
          ],
        },
      ],
    });
    assertChatCompletion(completion);
    expect(mock.server.last.body.messages[0].content).toEqual([
      { type: 'text', text: 'compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/screenshot.png' } },
    ]);
  });

  it('rejects a bad data: URL with a 400 naming the part, before calling Anthropic', async () => {
    const res = await post({
      model: 'claude',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
        { role: 'user', content: [{ type: 'text', text: 'c' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,bm90IGFuIGltYWdl' } }] },
      ],
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error.param).toBe('messages[2].content[1].image_url.url');
    expect(mock.server.requests).toHaveLength(0);
  });

  it('(the mock rejects a mislabelled image as the API does)', async () => {
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: PNG_B64 } }] }],
      }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBe('messages.0.content.0.image.source.base64.data: Image does not match the provided media type image/jpeg');
  });
});

describe('tools', () => {
  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    {
      type: 'function',
      function: { name: 'weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    },
    { type: 'function', function: { name: 'screenshot' } },
  ];
  const parallelAnswer = {
    message: {
      content: [
        { type: 'text' as const, text: 'Checking both.' },
        { type: 'tool_use' as const, id: 'toolu_01A', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use' as const, id: 'toolu_01B', name: 'weather', input: { city: 'Zürich' } },
      ],
    },
  };

  it('returns parallel tool calls', async () => {
    mock.script.push(parallelAnswer);
    const completion = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'Paris and Zürich?' }], tools, tool_choice: 'required' });
    assertChatCompletion(completion);
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        content: 'Checking both.',
        tool_calls: [
          { id: 'toolu_01A', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_01B', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } },
        ],
      },
    });
    expect(mock.server.last.body).toMatchObject({
      tools: [
        { name: 'weather', description: 'Current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
        { name: 'screenshot', input_schema: { type: 'object', properties: {} } },
      ],
      tool_choice: { type: 'any' },
    });
  });

  it('streams parallel tool calls, each with its own index, assembled by the stream() helper', async () => {
    mock.script.push(parallelAnswer);
    const runner = client.chat.completions.stream({ model: 'claude', messages: [{ role: 'user', content: 'Paris and Zürich?' }], tools, parallel_tool_calls: true });
    const chunks: Chunk[] = [];
    runner.on('chunk', (c) => {
      assertChatCompletionChunk(c);
      chunks.push(c);
    });
    const final = await runner.finalChatCompletion();
    const calls = final.choices[0].message.tool_calls ?? [];
    expect(calls.map((c) => c.type === 'function' && [c.id, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['toolu_01A', 'weather', { city: 'Paris' }],
      ['toolu_01B', 'weather', { city: 'Zürich' }],
    ]);
    expect(final.choices[0].message.content).toBe('Checking both.');
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const firsts = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).filter((t) => t.id);
    expect(firsts).toEqual([
      { index: 0, id: 'toolu_01A', type: 'function', function: { name: 'weather', arguments: '' } },
      { index: 1, id: 'toolu_01B', type: 'function', function: { name: 'weather', arguments: '' } },
    ]);
  });

  it('sends a tool round trip, with an image in a tool result, as Claude expects it', async () => {
    const completion = await client.chat.completions.create({
      model: 'claude',
      tools,
      parallel_tool_calls: false,
      messages: [
        { role: 'system', content: 'You operate a browser.' },
        { role: 'user', content: 'What is on screen, and the weather in Paris?' },
        {
          role: 'assistant',
          content: 'Looking.',
          tool_calls: [
            { id: 'toolu_01A', type: 'function', function: { name: 'screenshot', arguments: '' } },
            { id: 'toolu_01B', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01A', content: [{ type: 'text', text: 'screenshot:' }, { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG_B64}` } }] as never },
        { role: 'tool', tool_call_id: 'toolu_01B', content: '18°C' },
        { role: 'user', content: 'Summarise.' },
      ],
    });
    assertChatCompletion(completion);
    expect(completion.choices[0].message.content).toBe('echo: Summarise.');
    const body = mock.server.last.body;
    expect(body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'What is on screen, and the weather in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Looking.' },
          { type: 'tool_use', id: 'toolu_01A', name: 'screenshot', input: {} },
          { type: 'tool_use', id: 'toolu_01B', name: 'weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_01A',
            content: [{ type: 'text', text: 'screenshot:' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } }],
          },
          { type: 'tool_result', tool_use_id: 'toolu_01B', content: [{ type: 'text', text: '18°C' }] },
          { type: 'text', text: 'Summarise.' },
        ],
      },
    ]);
  });

  it('rejects malformed tool-call arguments with a 400 naming the path', async () => {
    const res = await post({
      model: 'claude',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'weather', arguments: '{"city":' } }] },
        { role: 'tool', tool_call_id: 'a', content: 'r' },
      ],
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('messages[1].tool_calls[0].function.arguments');
  });
});

describe('n > 1', () => {
  it('makes n calls and merges them into n choices with summed usage', async () => {
    const completion = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'twice' }], n: 2 });
    assertChatCompletion(completion);
    expect(completion.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, 'echo: twice'],
      [1, 'echo: twice'],
    ]);
    expect(mock.server.requests).toHaveLength(2);
    expect(completion.usage?.completion_tokens).toBe(4);
  });

  it('interleaves n streams by choice index, with one usage chunk', async () => {
    mock.script.push({ message: { content: [{ type: 'text', text: 'first answer here' }] } }, { message: { content: [{ type: 'text', text: 'second answer' }] } });
    const chunks = await collect(
      await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], n: 2, stream: true, stream_options: { include_usage: true } }),
    );
    expect([contentOf(chunks, 0), contentOf(chunks, 1)].sort()).toEqual(['first answer here', 'second answer']);
    expect(chunks.filter((c) => c.usage)).toHaveLength(1);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 12 } });
    const finishes = chunks.flatMap((c) => c.choices.filter((ch) => ch.finish_reason).map((ch) => ch.index)).sort();
    expect(finishes).toEqual([0, 1]);
  });
});

describe('response_format', () => {
  it('json_schema → Claude structured outputs', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    mock.script.push({ message: { content: [{ type: 'text', text: '{"city":"Paris"}' }] } });
    const completion = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'capital of France as JSON' }],
      response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
    });
    expect(JSON.parse(completion.choices[0].message.content ?? '')).toEqual({ city: 'Paris' });
    expect(mock.server.last.body.output_config).toEqual({ format: { type: 'json_schema', schema } });
  });

  it('json_object → an instruction, reported as adapted', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: 'JSON please' }], response_format: { type: 'json_object' } })
      .withResponse();
    expect(response.headers.get('x-switchboard-adapted')).toBe('response_format=system_prompt');
    expect(mock.server.last.body.system.at(-1).text).toMatch(/JSON object/);
  });
});

describe('recorded Anthropic traffic', () => {
  it.each(RECORDED_FIXTURES)('replays %s (plain and streamed) into valid OpenAI responses', async (name) => {
    const recorded = JSON.parse(recordedAnthropic(name, 'json'));
    mock.script.push({ fixture: name });
    const completion = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }] });
    assertChatCompletion(completion);
    expect(completion.model).toBe(recorded.model);
    expect(completion.usage?.completion_tokens).toBe(recorded.usage.output_tokens);
    const texts = recorded.content.filter((b: { type: string }) => b.type === 'text').map((b: { text: string }) => b.text).join('');
    expect(completion.choices[0].message.content ?? '').toBe(texts);
    const tools = recorded.content.filter((b: { type: string }) => b.type === 'tool_use');
    expect(completion.choices[0].message.tool_calls?.map((c) => c.type === 'function' && JSON.parse(c.function.arguments)) ?? []).toEqual(tools.map((t: { input: unknown }) => t.input));

    const events = fixtureLines(recordedAnthropic(name, 'chunks')).map((l) => JSON.parse(l));
    mock.script.push({ fixture: name });
    const chunks = await collect(
      await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } }),
    );
    const streamedText = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
    expect(contentOf(chunks)).toBe(streamedText);
    const lastDelta = events.find((e) => e.type === 'message_delta');
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(lastDelta.usage.output_tokens);
    expect(chunks.at(-1)?.model).toBe(events[0].message.model);
  });
});

describe('errors', () => {
  it('keeps Claude’s own 400 and its message', async () => {
    // A real rejection by the mock: a tool call without its result.
    const err = await client.chat.completions
      .create({
        model: 'claude',
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'toolu_other', content: 'r' },
        ],
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'upstream_rejected_request' });
    expect(err.message).toContain('`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1');
  });

  it('reports a rejected Anthropic key as the gateway’s problem (502) without echoing it', async () => {
    const wrongKey = 'sk-ant-api03-wrong-secret-999999';
    const bad = await startGateway({ ANTHROPIC_API_KEY: wrongKey, ANTHROPIC_BASE_URL: mock.url });
    try {
      const res = await post({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }, bad.baseURL);
      expect(res.status).toBe(502);
      const text = await res.text();
      assertErrorResponse(JSON.parse(text));
      expect(JSON.parse(text).error.code).toBe('upstream_auth_failed');
      expect(text).not.toContain('wrong-secret');
      expect(text).not.toContain('999999');
    } finally {
      await bad.close();
    }
  });

  it('passes 429 on with retry-after', async () => {
    mock.script.push({ status: 429, headers: { 'retry-after': '13' }, body: errorBody('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit') });
    const err = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers.get('retry-after')).toBe('13');
    expect(err.message).toContain('per-minute rate limit');
  });

  it('turns 529 overloaded into 503', async () => {
    mock.script.push({ status: 529, body: errorBody('overloaded_error', 'Overloaded') });
    const res = await post({ model: 'claude', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(res.status).toBe(503);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_unavailable' });
  });

  it('ends a stream with an error the SDK raises when Claude sends an error event mid-stream', async () => {
    mock.script.push({
      events: [
        { type: 'message_start', message: { id: 'msg_err', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Partial answer' } },
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      ],
    });
    const stream = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], stream: true });
    const seen: Chunk[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain('Overloaded');
    expect(contentOf(seen)).toBe('Partial answer');
  });

  it('ends a stream cut by the upstream with an error the SDK raises', async () => {
    const events = fixtureLines(recordedAnthropic('anthropic-text', 'chunks')).map((l) => JSON.parse(l));
    mock.script.push({ events, abortAfter: 5 });
    const stream = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], stream: true });
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toMatch(/Anthropic/);
  });

  it('answers 502 when Anthropic cannot be reached', async () => {
    const down = await startGateway({ ANTHROPIC_API_KEY: ANTHROPIC_TEST_KEY, ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' });
    try {
      const res = await post({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }, down.baseURL);
      expect(res.status).toBe(502);
      expect((await res.json()).error.code).toBe('upstream_unreachable');
    } finally {
      await down.close();
    }
  });

  it('reports an unknown anthropic_version as a configuration error', async () => {
    const res = await post({ model: 'claude-misconfigured', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(500);
    expect((await res.json()).error.code).toBe('gateway_misconfigured');
    expect(mock.server.requests).toHaveLength(0);
  });
});

describe('the mock itself, as the API behaves', () => {
  const send = (headers: Record<string, string>, body: unknown) =>
    fetch(`${mock.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => [r.status, await r.json()] as const);
  const minimal = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };

  it('wants a key and an anthropic-version', async () => {
    expect(await send({ 'anthropic-version': '2026-10-21' }, minimal)).toEqual([401, expect.objectContaining({ type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } })]);
    expect((await send({ 'x-api-key': ANTHROPIC_TEST_KEY }, minimal))[0]).toBe(400);
    expect((await send({ 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2026-10-21' }, minimal))[0]).toBe(200);
  });

  it('rejects sampling parameters on 2026-10-21 only, which is why the gateway drops them there', async () => {
    const withTemperature = { ...minimal, temperature: 0.5 };
    expect(await send({ 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2026-10-21' }, withTemperature)).toEqual([
      400,
      expect.objectContaining({ error: { type: 'invalid_request_error', message: 'temperature: Extra inputs are not permitted' } }),
    ]);
    expect((await send({ 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2023-06-01' }, withTemperature))[0]).toBe(200);
  });

  it('wants max_tokens and a first user turn', async () => {
    const headers = { 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2026-10-21' };
    expect((await send(headers, { ...minimal, max_tokens: undefined }))[1].error.message).toBe('max_tokens: Field required');
    expect((await send(headers, { ...minimal, messages: [{ role: 'assistant', content: 'hi' }] }))[1].error.message).toBe('messages: first message must use the "user" role');
  });
});

