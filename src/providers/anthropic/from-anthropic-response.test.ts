/// <reference types="vite/client" />
import type { Message } from '@anthropic-ai/sdk/resources/messages/messages';
import { describe, expect, it } from 'vitest';
import { assertChatCompletion } from '../../../test/helpers/schema';
import jsonToolFixture from '../../../../shared/fixtures/recorded/anthropic/anthropic-json-tool.1.json?raw';
import textFixture from '../../../../shared/fixtures/recorded/anthropic/anthropic-text.json?raw';
import toolNoArgsFixture from '../../../../shared/fixtures/recorded/anthropic/anthropic-tool-no-args.json?raw';
import { fromAnthropicMessages, mergeDeltaUsage, sumUsage, toOpenAIUsage } from './from-anthropic-response';

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const message = (extra: Partial<Message>): Message =>
  ({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: 'end_turn', stop_sequence: null, usage, ...extra }) as Message;

describe('fromAnthropicMessages', () => {
  it('replays the recorded responses into valid chat completions', () => {
    const text = fromAnthropicMessages([JSON.parse(textFixture)], 1700000000);
    assertChatCompletion(text);
    expect(text).toEqual({
      id: 'chatcmpl-msg_01TestTextResponse',
      object: 'chat.completion',
      created: 1700000000,
      model: 'claude-opus-4-7',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } },
    });

    const noArgs = fromAnthropicMessages([JSON.parse(toolNoArgsFixture)]);
    assertChatCompletion(noArgs);
    expect(noArgs.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        content: expect.stringMatching(/^<thinking>\nThe updateIssueList tool.*Okay, I will update the current issue list:$/s),
        tool_calls: [{ id: 'toolu_01LRmxn9vGM1d2DZSDBowdZ1', type: 'function', function: { name: 'updateIssueList', arguments: '{}' } }],
      },
    });

    const jsonTool = fromAnthropicMessages([JSON.parse(jsonToolFixture)]);
    assertChatCompletion(jsonTool);
    const call = jsonTool.choices[0].message.tool_calls?.[0];
    expect(jsonTool.choices[0].message.content).toBeNull();
    expect(JSON.parse(call?.function.arguments ?? '')).toEqual(JSON.parse(jsonToolFixture).content[0].input);
    expect(jsonTool.usage).toMatchObject({ prompt_tokens: 1151, completion_tokens: 87, total_tokens: 1238 });
  });

  it('joins text blocks and keeps tool calls in order; thinking → reasoning_content, its blocks on the next tool call', () => {
    const out = fromAnthropicMessages([
      message({
        content: [
          { type: 'thinking', thinking: 'hmm', signature: 'sig' },
          { type: 'redacted_thinking', data: 'EnCrYpTeD' },
          { type: 'text', text: 'Checking ', citations: null },
          { type: 'tool_use', id: 'toolu_a', name: 'weather', input: { city: 'Paris' } },
          { type: 'thinking', thinking: ' and Rome', signature: 'sig2' },
          { type: 'text', text: 'both cities.', citations: null },
          { type: 'tool_use', id: 'toolu_b', name: 'weather', input: { city: 'Rome', units: 'c' } },
          { type: 'thinking', thinking: '.', signature: 'sig3' },
        ] as Message['content'],
        stop_reason: 'tool_use',
      }),
    ]);
    assertChatCompletion(out);
    expect(out.choices[0].message).toEqual({
      role: 'assistant',
      content: 'Checking both cities.',
      reasoning_content: 'hmm and Rome.',
      refusal: null,
      tool_calls: [
        {
          id: 'toolu_a',
          type: 'function',
          function: { name: 'weather', arguments: '{"city":"Paris"}' },
          extra_content: { anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'redacted_thinking', data: 'EnCrYpTeD' }] } },
        },
        {
          id: 'toolu_b',
          type: 'function',
          function: { name: 'weather', arguments: '{"city":"Rome","units":"c"}' },
          extra_content: { anthropic: { thinking_blocks: [{ type: 'thinking', thinking: ' and Rome', signature: 'sig2' }] } },
        },
      ],
    });
    expect(out.choices[0].finish_reason).toBe('tool_calls');
  });

  it.each([
    ['thinking only, no tools', [{ type: 'thinking', thinking: 'Let me see.', signature: 's' }, { type: 'text', text: '4', citations: null }], { content: '4', reasoning_content: 'Let me see.' }],
    ['omitted display (empty thinking)', [{ type: 'thinking', thinking: '', signature: 's' }, { type: 'text', text: '4', citations: null }], { content: '4' }],
    ['redacted thinking only', [{ type: 'redacted_thinking', data: 'x' }, { type: 'text', text: '4', citations: null }], { content: '4' }],
  ] as const)('%s: reasoning never in content, redacted thinking not shown', (_name, content, expected) => {
    const out = fromAnthropicMessages([message({ content: content as unknown as Message['content'] })]);
    assertChatCompletion(out);
    expect(out.choices[0].message).toEqual({ role: 'assistant', refusal: null, ...expected });
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'stop'],
  ] as const)('stop_reason %s → finish_reason %s', (stop, finish) => {
    const out = fromAnthropicMessages([message({ content: [{ type: 'text', text: 'x', citations: null }], stop_reason: stop })]);
    assertChatCompletion(out);
    expect(out.choices[0].finish_reason).toBe(finish);
  });

  it('gives an empty answer as empty content and a refusal’s explanation as refusal', () => {
    const empty = fromAnthropicMessages([message({ content: [] })]);
    assertChatCompletion(empty);
    expect(empty.choices[0].message.content).toBe('');
    const refused = fromAnthropicMessages([
      message({ content: [], stop_reason: 'refusal', stop_details: { type: 'refusal', category: 'cyber', explanation: 'Declined: malware.' } }),
    ]);
    assertChatCompletion(refused);
    expect(refused.choices[0]).toMatchObject({ finish_reason: 'content_filter', message: { refusal: 'Declined: malware.' } });
  });

  it('merges n messages into n choices with summed usage', () => {
    const out = fromAnthropicMessages([
      message({ id: 'msg_a', content: [{ type: 'text', text: 'one', citations: null }] }),
      message({ id: 'msg_b', content: [{ type: 'text', text: 'two', citations: null }], stop_reason: 'max_tokens', usage: { ...usage, cache_read_input_tokens: 100 } as Message['usage'] }),
    ]);
    assertChatCompletion(out);
    expect(out.id).toBe('chatcmpl-msg_a');
    expect(out.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'one', 'stop'],
      [1, 'two', 'length'],
    ]);
    expect(out.usage).toEqual({ prompt_tokens: 120, completion_tokens: 10, total_tokens: 130, prompt_tokens_details: { cached_tokens: 100 } });
  });
});

describe('usage', () => {
  it.each([
    [{ input_tokens: 10, output_tokens: 5 }, { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } }],
    [
      { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200 },
      { prompt_tokens: 1210, completion_tokens: 5, total_tokens: 1215, prompt_tokens_details: { cached_tokens: 1000 } },
    ],
    [
      { input_tokens: 3, output_tokens: 50, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens_details: { thinking_tokens: 40 } },
      { prompt_tokens: 3, completion_tokens: 50, total_tokens: 53, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 40 } },
    ],
  ])('%j → %j', (anthropic, openai) => {
    expect(toOpenAIUsage(anthropic)).toEqual(openai);
  });

  it('takes cumulative message_delta counts over message_start ones', () => {
    const start = { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
    expect(mergeDeltaUsage(start, { output_tokens: 30 })).toMatchObject({ input_tokens: 12, output_tokens: 30 });
    expect(mergeDeltaUsage(start, { input_tokens: 15, output_tokens: 30, cache_read_input_tokens: null })).toMatchObject({ input_tokens: 15, cache_read_input_tokens: 0 });
  });

  it('sums usage, reasoning tokens only when some were counted', () => {
    const a = toOpenAIUsage({ input_tokens: 1, output_tokens: 2 });
    expect(sumUsage(a, a)).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6, prompt_tokens_details: { cached_tokens: 0 } });
    const b = toOpenAIUsage({ input_tokens: 1, output_tokens: 2, output_tokens_details: { thinking_tokens: 1 } });
    expect(sumUsage(a, b).completion_tokens_details).toEqual({ reasoning_tokens: 1 });
  });
});
