import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse, collectValidChunks } from '../helpers/schema';
import { ANTHROPIC_TEST_KEY, startAnthropicMock, thinkingBlock, validateMessagesRequest, validateModelRules, type AnthropicMock } from '../upstreams/anthropic';

// reasoning_effort → Claude's thinking, through the real Worker and the real openai
// SDK, against the Anthropic mock (which refuses what the API refuses with thinking:
// a budget outside 1024 … max_tokens-1, manual mode on 4.7+, sampling and forced
// tools beside thinking, a tool round without its signed thinking block).

type Message = OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string };
type Delta = OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

let mock: AnthropicMock;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await startAnthropicMock();
  gateway = await startGateway({
    MODELS: JSON.stringify({
      'claude-sonnet-4-5': { target: 'anthropic/claude-sonnet-4-5' },
      'claude-opus-4-7': { target: 'anthropic/claude-opus-4-7' },
      'claude-sonnet-4-legacy': { target: 'anthropic/claude-sonnet-4-20250514', anthropic_version: '2023-06-01' },
      'claude-3-5': { target: 'anthropic/claude-3-5-haiku-20241022' },
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

const headers = (response: Response) => ({
  dropped: response.headers.get('x-switchboard-dropped-params'),
  adapted: response.headers.get('x-switchboard-adapted'),
});
const weather: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
];

describe('reasoning_effort on Claude', () => {
  it.each([
    ['claude-sonnet-4-5', 'medium', { thinking: { type: 'enabled', budget_tokens: 8192 } }],
    ['claude-opus-4-7', 'high', { thinking: { type: 'adaptive', display: 'summarized' }, output_config: { effort: 'high' } }],
  ] as const)('%s, %s → %j; thinking as reasoning_content, content clean, reasoning tokens counted', async (model, effort, sent) => {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'think' }], reasoning_effort: effort, max_tokens: 10000 })
      .withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: null, adapted: null });
    expect(mock.server.last.body).toMatchObject(sent);
    const message = data.choices[0].message as Message;
    expect(message.content).toBe('echo: think');
    expect(message.reasoning_content).toBe('Thinking about: think');
    expect(data.usage?.completion_tokens_details?.reasoning_tokens).toBe(3);
    expect(data.usage?.completion_tokens).toBe(5); // "echo: think" (2) + thinking (3)
  });

  it('streams the thinking as delta.reasoning_content before the answer, with reasoning tokens in the usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'think hard' }],
      reasoning_effort: 'low',
      max_tokens: 4000,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collectValidChunks(stream);
    const deltas = chunks.flatMap((c) => c.choices.map((choice) => choice.delta as Delta));
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe('Thinking about: think hard');
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('echo: think hard');
    expect(deltas.findIndex((d) => d.reasoning_content)).toBeLessThan(deltas.findIndex((d) => d.content));
    expect(chunks.at(-1)?.usage?.completion_tokens_details?.reasoning_tokens).toBe(4);
    expect(mock.server.last.body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
  });

  it('lowers a budget that would not fit under max_tokens, and names it', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'think' }], reasoning_effort: 'high', max_tokens: 4000 })
      .withResponse();
    expect(headers(response)).toEqual({ dropped: null, adapted: 'thinking.budget_tokens=2976' });
    expect(mock.server.last.body).toMatchObject({ max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2976 } });
  });

  it('in strict mode, a budget that would have to change is a 400 instead', async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json', 'x-switchboard-strict': 'true' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'high', max_tokens: 4000 }),
    });
    expect(response.status).toBe(400);
    const body = await response.json();
    assertErrorResponse(body);
    expect(body.error.code).toBe('strict_adaptation_refused');
    expect(mock.server.requests).toHaveLength(0);
  });

  it('on 2023-06-01, thinking drops the temperature and raises top_p to 0.95 (Claude refuses them beside thinking)', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'claude-sonnet-4-legacy', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low', max_tokens: 4000, temperature: 0.1, top_p: 0.5 })
      .withResponse();
    expect(headers(response)).toEqual({ dropped: 'temperature', adapted: 'top_p=0.95' });
    expect(mock.server.last.body).toMatchObject({ top_p: 0.95, thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(mock.server.last.body.temperature).toBeUndefined();
  });

  it('a forced tool wins over thinking: reasoning_effort dropped and named', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }], tools: weather, tool_choice: 'required', reasoning_effort: 'low' })
      .withResponse();
    expect(headers(response)).toEqual({ dropped: 'reasoning_effort', adapted: null });
    expect(mock.server.last.body.thinking).toBeUndefined();
  });

  it('is dropped and named for Claude models that do not think', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'claude-3-5', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low' })
      .withResponse();
    expect(headers(response)).toEqual({ dropped: 'reasoning_effort', adapted: null });
    expect(mock.server.last.body.thinking).toBeUndefined();
  });

  it('an unknown effort is a 400 naming reasoning_effort', async () => {
    const error = await client.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'extreme' as 'low' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('reasoning_effort');
  });
});

describe('a tool round with thinking', () => {
  const question: OpenAI.Chat.Completions.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris?' };
  const scriptToolCall = () =>
    mock.script.push({
      message: {
        content: [thinkingBlock('Call the weather tool.'), { type: 'redacted_thinking', data: 'EnCrYpTeD' }, { type: 'tool_use', id: 'toolu_01', name: 'weather', input: { city: 'Paris' } }],
        usage: { output_tokens: 20, output_tokens_details: { thinking_tokens: 12 } },
      },
    });

  it.each([false, true])('returns the signed thinking blocks on the tool call; sent back, the next turn thinks too (stream: %s)', async (stream) => {
    scriptToolCall();
    let assistant: OpenAI.Chat.Completions.ChatCompletionMessageParam;
    if (stream) {
      const chunks = await collectValidChunks(
        await client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [question], tools: weather, reasoning_effort: 'low', max_tokens: 4000, stream: true }),
      );
      const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      const first = calls[0] as (typeof calls)[number] & { extra_content?: unknown };
      expect(chunks.flatMap((c) => c.choices.map((ch) => (ch.delta as Delta).reasoning_content ?? '')).join('')).toBe('Call the weather tool.');
      assistant = {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: first.id!, type: 'function', function: { name: first.function!.name!, arguments: calls.map((c) => c.function?.arguments ?? '').join('') }, extra_content: first.extra_content } as never,
        ],
      };
    } else {
      const data = await client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [question], tools: weather, reasoning_effort: 'low', max_tokens: 4000 });
      assertChatCompletion(data);
      const message = data.choices[0].message as Message;
      expect(message.reasoning_content).toBe('Call the weather tool.');
      expect(message.content).toBeNull();
      expect(data.usage?.completion_tokens_details?.reasoning_tokens).toBe(12);
      assistant = message as OpenAI.Chat.Completions.ChatCompletionMessageParam;
    }
    expect((assistant as { tool_calls: { extra_content?: unknown }[] }).tool_calls[0].extra_content).toEqual({
      anthropic: {
        thinking_blocks: [
          { type: 'thinking', thinking: 'Call the weather tool.', signature: expect.stringMatching(/^mocksig:/) },
          { type: 'redacted_thinking', data: 'EnCrYpTeD' },
        ],
      },
    });

    const { data, response } = await client.chat.completions
      .create({
        model: 'claude-sonnet-4-5',
        messages: [question, assistant, { role: 'tool', tool_call_id: 'toolu_01', content: 'sunny' }],
        tools: weather,
        reasoning_effort: 'low',
        max_tokens: 4000,
      })
      .withResponse();
    assertChatCompletion(data);
    expect(headers(response)).toEqual({ dropped: null, adapted: null });
    expect(mock.server.last.body.messages[1].content.map((b: { type: string }) => b.type)).toEqual(['thinking', 'redacted_thinking', 'tool_use']);
    expect(mock.server.last.body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
  });

  it('a client that dropped the thinking blocks still gets its answer: that turn runs without thinking, reasoning_effort named', async () => {
    const { response } = await client.chat.completions
      .create({
        model: 'claude-sonnet-4-5',
        messages: [
          question,
          { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_01', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'toolu_01', content: 'sunny' },
        ],
        tools: weather,
        reasoning_effort: 'low',
        max_tokens: 4000,
      })
      .withResponse();
    expect(headers(response)).toEqual({ dropped: 'reasoning_effort', adapted: null });
    expect(mock.server.last.body.thinking).toBeUndefined();
  });

  it('a thinking block changed by the client is refused by Claude (400 passed on)', async () => {
    const error = await client.chat.completions
      .create({
        model: 'claude-sonnet-4-5',
        messages: [
          question,
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'toolu_01',
                type: 'function',
                function: { name: 'weather', arguments: '{}' },
                extra_content: { anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 'edited', signature: thinkingBlock('original').signature }] } },
              } as never,
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_01', content: 'sunny' },
        ],
        tools: weather,
        reasoning_effort: 'low',
        max_tokens: 4000,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((error as Error).message)).toMatch(/Invalid `signature` in `thinking` block/);
  });
});

describe('the mock refuses what Claude refuses with thinking (so the tests above mean something)', () => {
  const body = (extra: Record<string, unknown>) => ({ model: 'claude-sonnet-4-5', max_tokens: 4000, messages: [{ role: 'user', content: 'x' }], ...extra });
  const toolRound = (assistantContent: unknown[]) => [
    { role: 'user', content: 'x' },
    { role: 'assistant', content: assistantContent },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] },
  ];
  const toolUse = { type: 'tool_use', id: 't', name: 'weather', input: {} };
  const tools = [{ name: 'weather', input_schema: { type: 'object' } }];
  const check = (b: Record<string, any>, version: '2023-06-01' | '2026-10-21' = '2026-10-21') => validateMessagesRequest(b, version) ?? validateModelRules(b);

  it.each([
    [{ thinking: { type: 'enabled', budget_tokens: 1000 } }, /budget_tokens: Input should be greater than or equal to 1024/],
    [{ thinking: { type: 'enabled', budget_tokens: 4000 } }, /`max_tokens` must be greater than `thinking.budget_tokens`/],
    [{ model: 'claude-opus-4-7', thinking: { type: 'enabled', budget_tokens: 1024 } }, /"thinking.type.enabled" is not supported for this model/],
    [{ model: 'claude-opus-5', thinking: { type: 'disabled' } }, /"thinking.type.disabled" is not supported/],
    [{ thinking: { type: 'adaptive' } }, /"thinking.type.adaptive" is not supported/],
    [{ thinking: { type: 'enabled', budget_tokens: 1024 }, tools, tool_choice: { type: 'any' } }, /Thinking may not be enabled when tool_choice forces tool use/],
    [{ thinking: { type: 'enabled', budget_tokens: 1024 }, tools, messages: toolRound([toolUse]) }, /a final `assistant` message must start with a thinking block/],
    [{ thinking: { type: 'enabled', budget_tokens: 1024 }, tools, messages: toolRound([{ type: 'thinking', thinking: 'a', signature: 'forged' }, toolUse]) }, /Invalid `signature`/],
    [{ model: 'claude-opus-4-7', output_config: { effort: 'extreme' } }, /output_config.effort/],
  ])('%j → %s', (extra, message) => {
    expect(check(body(extra))).toMatch(message);
  });

  it.each([
    [{ temperature: 0.5 }, /`temperature` may only be set to 1 when thinking is enabled/],
    [{ top_p: 0.9 }, /`top_p` must be greater than or equal to 0.95/],
    [{ top_k: 5 }, /`top_k` must be unset when thinking is enabled/],
  ])('on 2023-06-01, %j beside thinking → %s', (extra, message) => {
    expect(check(body({ model: 'claude-sonnet-4-20250514', thinking: { type: 'enabled', budget_tokens: 1024 }, ...extra }), '2023-06-01')).toMatch(message);
  });

  it('accepts a signed round trip, and a tool round without thinking when thinking is off', () => {
    expect(check(body({ thinking: { type: 'enabled', budget_tokens: 1024 }, tools, messages: toolRound([thinkingBlock('a'), toolUse]) }))).toBeNull();
    expect(check(body({ tools, messages: toolRound([toolUse]) }))).toBeNull();
    expect(check(body({ model: 'claude-opus-4-7', thinking: { type: 'adaptive', display: 'summarized' }, output_config: { effort: 'xhigh' } }))).toBeNull();
  });
});
