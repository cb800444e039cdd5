/// <reference types="vite/client" />
import { Stream } from '@anthropic-ai/sdk/core/streaming';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages/messages';
import { describe, expect, it } from 'vitest';
import { assertChatCompletionChunk } from '../../../test/helpers/schema';
import jsonToolChunks from '../../../../shared/fixtures/recorded/anthropic/anthropic-json-tool.1.chunks.txt?raw';
import textChunks from '../../../../shared/fixtures/recorded/anthropic/anthropic-text.chunks.txt?raw';
import toolNoArgsChunks from '../../../../shared/fixtures/recorded/anthropic/anthropic-tool-no-args.chunks.txt?raw';
import { openAIChunkStream } from '../../openai/chunk-stream';
import { GatewayError } from '../../openai/errors';
import type { ChatCompletionChunk } from '../../openai/types';
import { anthropicErrorToGateway } from './anthropic-error';
import { createAnthropicStreamTranslator, type TaggedEvent } from './anthropic-stream';
import { mergeStreams } from './merge-streams';

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as RawMessageStreamEvent);

function run(events: RawMessageStreamEvent[] | TaggedEvent[], options: { n?: number; includeUsage?: boolean } = {}) {
  const translator = createAnthropicStreamTranslator({ n: options.n ?? 1, includeUsage: options.includeUsage ?? false, model: 'fallback', created: 1 });
  const chunks: ChatCompletionChunk[] = [];
  for (const e of events) chunks.push(...translator.onEvent('choice' in e ? e : { choice: 0, event: e }));
  chunks.push(...translator.onEnd());
  for (const c of chunks) assertChatCompletionChunk(c);
  return chunks;
}

/** What a client assembles from the chunks of one choice. */
function assemble(chunks: ChatCompletionChunk[], index = 0) {
  let content = '';
  let finish: string | null = null;
  const calls: { id?: string; name?: string; arguments: string }[] = [];
  for (const c of chunks) {
    for (const choice of c.choices) {
      if (choice.index !== index) continue;
      content += choice.delta.content ?? '';
      for (const t of choice.delta.tool_calls ?? []) {
        calls[t.index] ??= { arguments: '' };
        if (t.id) calls[t.index].id = t.id;
        if (t.function?.name) calls[t.index].name = t.function.name;
        calls[t.index].arguments += t.function?.arguments ?? '';
      }
      finish = choice.finish_reason ?? finish;
    }
  }
  return { content, finish, calls };
}

const start = (id = 'msg_1', input = 10): RawMessageStreamEvent =>
  ({ type: 'message_start', message: { id, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: input, output_tokens: 1 } } }) as never;
const textStart = (index: number): RawMessageStreamEvent => ({ type: 'content_block_start', index, content_block: { type: 'text', text: '', citations: null } });
const text = (index: number, t: string): RawMessageStreamEvent => ({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
const toolStart = (index: number, id: string, name: string): RawMessageStreamEvent =>
  ({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } }) as never;
const json = (index: number, partial: string): RawMessageStreamEvent => ({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } });
const stop = (index: number): RawMessageStreamEvent => ({ type: 'content_block_stop', index });
const delta = (reason: string, output = 20): RawMessageStreamEvent => ({ type: 'message_delta', delta: { stop_reason: reason, stop_sequence: null }, usage: { output_tokens: output } }) as never;
const end: RawMessageStreamEvent = { type: 'message_stop' };
const ping = { type: 'ping' } as unknown as RawMessageStreamEvent;

describe('createAnthropicStreamTranslator', () => {
  it('replays the recorded text stream', () => {
    const chunks = run(lines(textChunks), { includeUsage: true });
    expect(assemble(chunks)).toEqual({
      content: "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?",
      finish: 'stop',
      calls: [],
    });
    expect(chunks[0]).toEqual({
      id: 'chatcmpl-msg_01QC4g3HwBThD4BaNtBckFDJ',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'claude-sonnet-4-5-20250929',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } });
  });

  it('replays the recorded tool call without arguments: id, name, then {} like a non-streamed call', () => {
    const chunks = run(lines(toolNoArgsChunks));
    expect(assemble(chunks)).toEqual({
      content: "I'll update the issue list for you.",
      finish: 'tool_calls',
      calls: [{ id: 'toolu_01QE1WLsSVp5hy5Q3GmGTmjP', name: 'updateIssueList', arguments: '{}' }],
    });
    const first = chunks.find((c) => c.choices[0]?.delta.tool_calls);
    expect(first?.choices[0].delta.tool_calls).toEqual([
      { index: 0, id: 'toolu_01QE1WLsSVp5hy5Q3GmGTmjP', type: 'function', function: { name: 'updateIssueList', arguments: '' } },
    ]);
  });

  it('replays the recorded JSON tool stream, argument fragments in order', () => {
    const chunks = run(lines(jsonToolChunks), { includeUsage: true });
    const out = assemble(chunks);
    expect(out.finish).toBe('tool_calls');
    expect(JSON.parse(out.calls[0].arguments)).toEqual({ elements: [{ location: 'San Francisco', temperature: 58, condition: 'sunny' }] });
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 849, completion_tokens: 47 });
  });

  it('numbers tool calls 0, 1, … whatever the content-block indexes, with text in between', () => {
    const chunks = run([
      start(),
      textStart(0),
      text(0, 'Checking '),
      stop(0),
      toolStart(1, 'toolu_a', 'weather'),
      json(1, ''),
      json(1, '{"city":'),
      json(1, '"Paris"}'),
      stop(1),
      textStart(2),
      text(2, 'and '),
      stop(2),
      toolStart(3, 'toolu_b', 'weather'),
      json(3, '{"city":"Rome"}'),
      stop(3),
      delta('tool_use'),
      end,
    ]);
    const toolDeltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(toolDeltas).toEqual([
      { index: 0, id: 'toolu_a', type: 'function', function: { name: 'weather', arguments: '' } },
      { index: 0, function: { arguments: '{"city":' } },
      { index: 0, function: { arguments: '"Paris"}' } },
      { index: 1, id: 'toolu_b', type: 'function', function: { name: 'weather', arguments: '' } },
      { index: 1, function: { arguments: '{"city":"Rome"}' } },
    ]);
    expect(assemble(chunks)).toMatchObject({ content: 'Checking and ', finish: 'tool_calls' });
  });

  it('sends thinking as reasoning_content (never content); ignores ping, signatures, redacted thinking and unknown events', () => {
    const chunks = run([
      start(),
      ping,
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'think' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQB' } },
      stop(0),
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'xx' } } as never,
      stop(1),
      textStart(2),
      text(2, 'Answer'),
      stop(2),
      { type: 'some_future_event' } as never,
      delta('end_turn'),
      end,
    ]);
    expect(assemble(chunks)).toEqual({ content: 'Answer', finish: 'stop', calls: [] });
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'Let me ' },
      { reasoning_content: 'think' },
      { content: 'Answer' },
      {},
    ]);
  });

  it('puts the finished thinking blocks (signatures, redacted ones) on the next tool call, once', () => {
    const chunks = run([
      start(),
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Weather first.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQB' } },
      stop(0),
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'xx' } } as never,
      stop(1),
      toolStart(2, 'toolu_a', 'weather'),
      stop(2),
      toolStart(3, 'toolu_b', 'time'),
      stop(3),
      delta('tool_use'),
      end,
    ]);
    const starts = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).filter((t) => t.id);
    expect(starts.map((t) => (t as { extra_content?: unknown }).extra_content)).toEqual([
      { anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 'Weather first.', signature: 'EqQB' }, { type: 'redacted_thinking', data: 'xx' }] } },
      undefined,
    ]);
    expect(assemble(chunks).content).toBe('');
  });

  it('counts thinking tokens as reasoning_tokens in the usage chunk', () => {
    const chunks = run(
      [
        start(),
        textStart(0),
        text(0, 'a'),
        stop(0),
        { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30, output_tokens_details: { thinking_tokens: 25 } } } as never,
        end,
      ],
      { includeUsage: true },
    );
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(30);
    expect(chunks.at(-1)?.usage?.completion_tokens_details).toEqual({ reasoning_tokens: 25 });
  });

  it('sends a refusal’s explanation with finish_reason content_filter', () => {
    const chunks = run([
      start(),
      textStart(0),
      text(0, 'I'),
      stop(0),
      { type: 'message_delta', delta: { stop_reason: 'refusal', stop_sequence: null, stop_details: { type: 'refusal', category: 'cyber', explanation: 'Declined.' } }, usage: { output_tokens: 2 } } as never,
      end,
    ]);
    expect(chunks.at(-1)?.choices[0]).toEqual({ index: 0, delta: { refusal: 'Declined.' }, logprobs: null, finish_reason: 'content_filter' });
  });

  it('maps max_tokens to length and sends no usage chunk unless asked', () => {
    const chunks = run([start(), textStart(0), text(0, 'a'), stop(0), delta('max_tokens'), end]);
    expect(assemble(chunks).finish).toBe('length');
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('reports its usage (for usage accounting) whether or not the client asked for the chunk', () => {
    const translator = createAnthropicStreamTranslator({ n: 1, includeUsage: false, model: 'fallback', created: 1 });
    expect(translator.usage?.()).toBeNull();
    translator.onEvent({ choice: 0, event: start('msg_1', 12) });
    expect(translator.usage?.()).toMatchObject({ prompt_tokens: 12, completion_tokens: 1 });
    for (const event of [textStart(0), text(0, 'a'), stop(0), delta('end_turn', 5), end]) expect(translator.onEvent({ choice: 0, event }).some((c) => c.usage)).toBe(false);
    expect(translator.usage?.()).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('interleaves n streams by choice index, with one usage chunk after the last stops', () => {
    const events: TaggedEvent[] = [
      { choice: 1, event: start('msg_b', 7) },
      { choice: 0, event: start('msg_a', 10) },
      { choice: 0, event: textStart(0) },
      { choice: 1, event: textStart(0) },
      { choice: 1, event: text(0, 'two') },
      { choice: 0, event: text(0, 'one') },
      { choice: 1, event: stop(0) },
      { choice: 1, event: delta('end_turn', 3) },
      { choice: 1, event: end },
      { choice: 0, event: stop(0) },
      { choice: 0, event: delta('max_tokens', 4) },
      { choice: 0, event: end },
    ];
    const chunks = run(events, { n: 2, includeUsage: true });
    expect(assemble(chunks, 0)).toMatchObject({ content: 'one', finish: 'length' });
    expect(assemble(chunks, 1)).toMatchObject({ content: 'two', finish: 'stop' });
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-msg_b']));
    const usageChunks = chunks.filter((c) => c.usage);
    expect(usageChunks).toHaveLength(1);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 17, completion_tokens: 7, total_tokens: 24 } });
  });

  it('fails a stream that ends before message_stop', () => {
    const translator = createAnthropicStreamTranslator({ n: 1, includeUsage: false, model: 'm' });
    translator.onEvent({ choice: 0, event: start() });
    translator.onEvent({ choice: 0, event: textStart(0) });
    expect(() => translator.onEnd()).toThrow(GatewayError);
    const chunk = translator.errorChunk(new GatewayError(502, 'cut', 'upstream_error', null, 'upstream_stream_truncated'));
    assertChatCompletionChunk(chunk);
    expect(chunk).toMatchObject({ id: 'chatcmpl-msg_1', choices: [], error: { message: 'cut', code: 'upstream_stream_truncated' } });
  });
});

describe('through the SDK’s SSE parser and openAIChunkStream', () => {
  const sse = (events: object[]) => events.map((e) => `event: ${(e as { type: string }).type}\ndata: ${JSON.stringify(e)}\n\n`).join('');

  /** A response whose body arrives `size` bytes at a time: multi-byte characters split across reads. */
  function response(body: string, size: number): Response {
    const bytes = new TextEncoder().encode(body);
    return new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
          controller.close();
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    );
  }

  async function translate(body: string, size: number) {
    const upstream = Stream.fromSSEResponse<RawMessageStreamEvent>(response(body, size), new AbortController());
    const translator = createAnthropicStreamTranslator({ n: 1, includeUsage: true, model: 'claude' });
    const out = openAIChunkStream(mergeStreams([upstream[Symbol.asyncIterator]()]), translator, (e) => anthropicErrorToGateway(e, []), () => {});
    const text = await new Response(out).text();
    const datas = text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(datas.at(-1)).toBe('[DONE]');
    const chunks = datas.slice(0, -1).map((d) => JSON.parse(d) as ChatCompletionChunk);
    for (const c of chunks) assertChatCompletionChunk(c);
    return chunks;
  }

  it.each([1, 2, 3, 7])('keeps Unicode split across %i-byte reads intact', async (size) => {
    const words = ['héllo ', 'wörld ', '🌍🌏 ', '世界', '—ok'];
    const body = sse([start(), textStart(0), ping, ...words.map((w) => text(0, w)), stop(0), delta('end_turn'), end]);
    const chunks = await translate(body, size);
    expect(assemble(chunks).content).toBe(words.join(''));
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(20);
  });

  it('ends with an error chunk and [DONE] when Claude sends an error event mid-stream', async () => {
    const body = sse([start(), textStart(0), text(0, 'partial'), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]);
    const chunks = await translate(body, 64);
    expect(assemble(chunks).content).toBe('partial');
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      error: { type: 'upstream_error', code: 'upstream_unavailable', message: expect.stringContaining('Overloaded') },
    });
  });

  it('ends with an error chunk when the upstream stops before message_stop', async () => {
    const chunks = await translate(sse([start(), textStart(0), text(0, 'cut')]), 64);
    expect(chunks.at(-1)).toMatchObject({ error: { code: 'upstream_stream_truncated' } });
  });
});
