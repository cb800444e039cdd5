import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../../openai/types';
import {
  JSON_OBJECT_INSTRUCTION,
  LEGACY_API_VERSION,
  SDK_API_VERSION,
  defaultMaxTokens,
  toAnthropicRequest,
  type AnthropicApiVersion,
} from './to-anthropic-request';

const base = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'anthropic/claude-sonnet-4-5',
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});
const translate = (extra: Partial<ChatCompletionRequest> = {}, apiVersion: AnthropicApiVersion = SDK_API_VERSION, defaultMax?: number) =>
  toAnthropicRequest(base(extra), { model: 'claude-sonnet-4-5', apiVersion, defaultMaxTokens: defaultMax, maxImageBytes: 1 << 20 });
const userHi = [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }];

describe('toAnthropicRequest', () => {
  it('translates a minimal request, with the upstream model and a default max_tokens', () => {
    expect(translate()).toEqual({
      params: { model: 'claude-sonnet-4-5', max_tokens: 16384, messages: userHi },
      n: 1,
      stream: false,
      includeUsage: false,
      notes: { dropped: [], adapted: [] },
    });
  });

  it.each([
    [{ max_tokens: 100 }, undefined, 100],
    [{ max_completion_tokens: 200, max_tokens: 100 }, undefined, 200],
    [{}, 8192, 8192],
    [{ max_tokens: 50 }, 8192, 50],
  ] as const)('max_tokens from %j with deployment default %s → %i', (extra, deploymentDefault, expected) => {
    expect(translate(extra, SDK_API_VERSION, deploymentDefault).params.max_tokens).toBe(expected);
  });

  it('puts every system and developer text into system, in order, and drops whitespace-only ones', () => {
    const out = translate({
      messages: [
        { role: 'system', content: 'first' },
        { role: 'user', content: 'q' },
        { role: 'developer', content: [{ type: 'text', text: 'second' }, { type: 'text', text: ' ' }, { type: 'text', text: 'third' }] },
        { role: 'system', content: '   ' },
      ],
    });
    expect(out.params.system).toEqual([
      { type: 'text', text: 'first' },
      { type: 'text', text: 'second' },
      { type: 'text', text: 'third' },
    ]);
    expect(out.params.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'q' }] }]);
  });

  it('maps stop to stop_sequences, dropping whitespace-only ones and naming them', () => {
    expect(translate({ stop: 'END' }).params.stop_sequences).toEqual(['END']);
    const out = translate({ stop: ['\n', 'END', ' \t'] });
    expect(out.params.stop_sequences).toEqual(['END']);
    expect(out.notes.dropped).toEqual(['stop[0]', 'stop[2]']);
    const only = translate({ stop: '\n\n' });
    expect(only.params.stop_sequences).toBeUndefined();
    expect(only.notes.dropped).toEqual(['stop']);
  });

  it('maps user to metadata.user_id', () => {
    expect(translate({ user: 'user-42' }).params.metadata).toEqual({ user_id: 'user-42' });
    expect(translate({ user: '' }).params.metadata).toBeUndefined();
  });

  describe('sampling parameters', () => {
    it('drops temperature and top_p on the SDK API version (2026-10-21), unless at Claude’s defaults', () => {
      const out = translate({ temperature: 0.2, top_p: 0.9 });
      expect(out.params).not.toHaveProperty('temperature');
      expect(out.params).not.toHaveProperty('top_p');
      expect(out.notes.dropped).toEqual(['temperature', 'top_p']);
      expect(translate({ temperature: 1, top_p: 1 }).notes.dropped).toEqual([]);
    });

    it.each([
      [0, 0, []],
      [0.7, 0.7, []],
      [1, 1, []],
      [1.5, 1, ['temperature=1']],
      [2, 1, ['temperature=1']],
    ])('on 2023-06-01 temperature %d → %d, adapted %j', (given, sent, adapted) => {
      const out = translate({ temperature: given, top_p: 0.9 }, LEGACY_API_VERSION);
      expect(out.params.temperature).toBe(sent);
      expect(out.params.top_p).toBe(0.9);
      expect(out.notes.adapted).toEqual(adapted);
      expect(out.notes.dropped).toEqual([]);
    });
  });

  describe('tools', () => {
    const weather = {
      type: 'function' as const,
      function: { name: 'weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    };
    const clock = { type: 'function' as const, function: { name: 'clock' } };

    it('maps tools, with an empty object schema when parameters are absent and strict kept', () => {
      const out = translate({ tools: [weather, clock, { type: 'function', function: { name: 's', parameters: { properties: {} }, strict: true } }] });
      expect(out.params.tools).toEqual([
        { name: 'weather', description: 'Weather for a city', input_schema: weather.function.parameters },
        { name: 'clock', input_schema: { type: 'object', properties: {} } },
        { name: 's', input_schema: { type: 'object', properties: {} }, strict: true },
      ]);
      expect(out.params.tool_choice).toBeUndefined();
    });

    it.each([
      [{ tool_choice: 'auto' }, { type: 'auto' }],
      [{ tool_choice: 'none' }, { type: 'none' }],
      [{ tool_choice: 'required' }, { type: 'any' }],
      [{ tool_choice: { type: 'function', function: { name: 'clock' } } }, { type: 'tool', name: 'clock' }],
      [{ parallel_tool_calls: false }, { type: 'auto', disable_parallel_tool_use: true }],
      [{ tool_choice: 'required', parallel_tool_calls: false }, { type: 'any', disable_parallel_tool_use: true }],
      [{ tool_choice: { type: 'function', function: { name: 'clock' } }, parallel_tool_calls: false }, { type: 'tool', name: 'clock', disable_parallel_tool_use: true }],
      [{ tool_choice: 'none', parallel_tool_calls: false }, { type: 'none' }],
      [{ parallel_tool_calls: true }, undefined],
    ] as const)('%j → tool_choice %j', (extra, expected) => {
      const out = translate({ tools: [weather, clock], ...(extra as Partial<ChatCompletionRequest>) });
      expect(out.params.tool_choice).toEqual(expected);
      expect(out.notes.dropped).toEqual([]);
    });

    it('ignores tool_choice and parallel_tool_calls without tools', () => {
      const out = translate({ tools: [], tool_choice: 'none', parallel_tool_calls: false });
      expect(out.params.tools).toBeUndefined();
      expect(out.params.tool_choice).toBeUndefined();
      expect(out.notes.dropped).toEqual([]);
    });
  });

  describe('response_format', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };

    it('json_schema → structured outputs (output_config.format)', () => {
      const out = translate({ response_format: { type: 'json_schema', json_schema: { name: 'a', schema, strict: true } } });
      expect(out.params.output_config).toEqual({ format: { type: 'json_schema', schema } });
      expect(out.params.system).toBeUndefined();
      expect(out.notes).toEqual({ dropped: [], adapted: [] });
    });

    it.each([{ type: 'json_object' }, { type: 'json_schema', json_schema: { name: 'no-schema' } }] as const)(
      '%j → an instruction after the system prompt, reported',
      (format) => {
        const out = translate({ messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'hi' }], response_format: format });
        expect(out.params.system).toEqual([
          { type: 'text', text: 'sys' },
          { type: 'text', text: JSON_OBJECT_INSTRUCTION },
        ]);
        expect(out.params.output_config).toBeUndefined();
        expect(out.notes.adapted).toEqual(['response_format=system_prompt']);
      },
    );

    it('text changes nothing', () => {
      expect(translate({ response_format: { type: 'text' } }).notes).toEqual({ dropped: [], adapted: [] });
    });
  });

  it('names every parameter it cannot honour, known or not, in request order', () => {
    const out = translate({
      frequency_penalty: 0.5,
      presence_penalty: 0,
      seed: 7,
      logit_bias: { '50256': -100 },
      logprobs: true,
      top_logprobs: 3,
      top_k: 40,
      repetition_penalty: 1.1,
      store: false,
      metadata: { run: 'a' },
      service_tier: 'auto',
      temperature: null,
    });
    expect(out.notes.dropped).toEqual([
      'frequency_penalty',
      'seed',
      'logit_bias',
      'logprobs',
      'top_logprobs',
      'top_k',
      'repetition_penalty',
      'metadata',
      'service_tier',
    ]);
  });

  it('leaves out parameters at OpenAI’s defaults without naming them', () => {
    const out = translate({ frequency_penalty: 0, presence_penalty: 0, logprobs: false, logit_bias: {}, n: 1, stream: false, stream_options: null });
    expect(out.notes.dropped).toEqual([]);
  });

  it('reads n, stream and include_usage', () => {
    expect(translate({ n: 3, stream: true, stream_options: { include_usage: true } })).toMatchObject({ n: 3, stream: true, includeUsage: true });
    expect(translate({ stream_options: { include_usage: true } })).toMatchObject({ stream: false, includeUsage: false });
  });

  it('adds the messages notes (names, image detail, the added user turn)', () => {
    const out = translate({ messages: [{ role: 'assistant', content: 'hello', name: 'bot' }] });
    expect(out.notes).toEqual({ dropped: ['messages[].name'], adapted: ['messages=user_turn_added'] });
  });
});

describe('defaultMaxTokens', () => {
  it.each([
    ['claude-3-haiku-20240307', 4096],
    ['claude-3-opus-20240229', 4096],
    ['claude-3-5-sonnet-20241022', 8192],
    ['claude-3-5-haiku-latest', 8192],
    ['claude-3-7-sonnet-20250219', 8192],
    ['claude-sonnet-4-20250514', 16384],
    ['claude-opus-4-1-20250805', 16384],
    ['claude-sonnet-4-5', 16384],
    ['claude-haiku-4-5-20251001', 16384],
    ['claude-opus-5-5', 16384],
    ['claude-2.1', 4096],
    ['my-proxy-model', 4096],
  ])('%s → %i', (model, expected) => {
    expect(defaultMaxTokens(model)).toBe(expected);
  });

  describe('reasoning_effort → thinking', () => {
    const think = (extra: Partial<ChatCompletionRequest>, model = 'claude-sonnet-4-5', apiVersion: AnthropicApiVersion = SDK_API_VERSION) =>
      toAnthropicRequest(base(extra), { model, apiVersion, maxImageBytes: 1 << 20 });
    const weather = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object' } } }];

    it.each([
      ['claude-sonnet-4-5', { reasoning_effort: 'medium' }, { thinking: { type: 'enabled', budget_tokens: 8192 } }, []],
      ['claude-3-7-sonnet-20250219', { reasoning_effort: 'low', max_tokens: 4000 }, { thinking: { type: 'enabled', budget_tokens: 1024 } }, []],
      ['claude-sonnet-4-5', { reasoning_effort: 'none' }, {}, []],
      ['claude-opus-4-7', { reasoning_effort: 'high' }, { thinking: { type: 'adaptive', display: 'summarized' }, output_config: { effort: 'high' } }, []],
      ['claude-opus-4-7', { reasoning_effort: 'none' }, { thinking: { type: 'disabled' } }, []],
      ['claude-sonnet-5-5', { reasoning_effort: 'none' }, { output_config: { effort: 'low' } }, ['reasoning_effort=low']],
    ] as const)('%s %j → %j', (model, extra, expected, adapted) => {
      const out = think(extra as Partial<ChatCompletionRequest>, model);
      expect({ thinking: out.params.thinking, output_config: out.params.output_config }).toEqual({ thinking: undefined, output_config: undefined, ...expected });
      expect(out.notes).toEqual({ dropped: [], adapted });
    });

    it('keeps a structured-output format beside the effort', () => {
      const out = think({ reasoning_effort: 'low', response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } }, 'claude-opus-4-7');
      expect(out.params.output_config).toEqual({ format: { type: 'json_schema', schema: { type: 'object' } }, effort: 'low' });
    });

    it('lowers a budget that does not fit under max_tokens, naming it', () => {
      const out = think({ reasoning_effort: 'high' }); // the default max_tokens 16384
      expect(out.params.thinking).toEqual({ type: 'enabled', budget_tokens: 15360 });
      expect(out.notes.adapted).toEqual(['thinking.budget_tokens=15360']);
    });

    it('a forced tool wins over thinking (Claude refuses the pair): reasoning_effort dropped', () => {
      const out = think({ reasoning_effort: 'high', tools: weather, tool_choice: 'required' });
      expect(out.params.thinking).toBeUndefined();
      expect(out.params.tool_choice).toEqual({ type: 'any' });
      expect(out.notes.dropped).toEqual(['reasoning_effort']);
      expect(think({ reasoning_effort: 'high', tools: weather, tool_choice: 'auto' }).params.thinking).toBeDefined();
    });

    it('continues a tool round without thinking when the client dropped the thinking blocks', () => {
      const messages = [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
      ] as ChatCompletionRequest['messages'];
      const out = think({ messages, tools: weather, reasoning_effort: 'low' });
      expect(out.params.thinking).toBeUndefined();
      expect(out.notes.dropped).toEqual(['reasoning_effort']);

      const signed = structuredClone(messages);
      (signed[1].tool_calls![0] as unknown as Record<string, unknown>).extra_content = { anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 'hm', signature: 'S' }] } };
      const kept = think({ messages: signed, tools: weather, reasoning_effort: 'low', max_tokens: 4000 });
      expect(kept.params.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
      expect(kept.params.messages[1].content).toEqual([
        { type: 'thinking', thinking: 'hm', signature: 'S' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} },
      ]);
    });

    it('on 2023-06-01, drops a temperature other than 1 and raises top_p to 0.95 while thinking', () => {
      const out = think({ reasoning_effort: 'low', max_tokens: 4000, temperature: 0.2, top_p: 0.5 }, 'claude-sonnet-4-20250514', LEGACY_API_VERSION);
      expect(out.params).toMatchObject({ top_p: 0.95, thinking: { type: 'enabled', budget_tokens: 1024 } });
      expect(out.params.temperature).toBeUndefined();
      expect(out.notes).toEqual({ dropped: ['temperature'], adapted: ['top_p=0.95'] });
      const off = think({ reasoning_effort: 'none', temperature: 0.2, top_p: 0.5 }, 'claude-sonnet-4-20250514', LEGACY_API_VERSION);
      expect(off.params).toMatchObject({ temperature: 0.2, top_p: 0.5 });
    });

    it('rejects an effort OpenAI does not define', () => {
      expect(() => think({ reasoning_effort: 'extreme' })).toThrow(/reasoning_effort must be one of/);
    });
  });
});
