/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest';
import textChunks from '../../../../shared/fixtures/recorded/gemini/google-text.chunks.txt?raw';
import toolChunks from '../../../../shared/fixtures/recorded/gemini/google-tool-call.chunks.txt?raw';
import promptBlock from '../../../../shared/fixtures/recorded/gemini/issue-19758-prompt-block.json';
import { GatewayError } from '../../openai/errors';
import { geminiEvents, GeminiStreamTranslator, streamEventFailure } from './gemini-stream';
import type { GenerateContentResponse } from './types';

const lines = (text: string) => text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as GenerateContentResponse);

function translate(events: GenerateContentResponse[], includeUsage = false) {
  const t = new GeminiStreamTranslator('fallback-model', includeUsage);
  return [...events.flatMap((e) => t.onEvent(e)), ...t.onEnd()];
}

const ev = (candidates: unknown[], extra: Partial<GenerateContentResponse> = {}): GenerateContentResponse =>
  ({ responseId: 'r1', modelVersion: 'gemini-2.5-flash', candidates, ...extra }) as GenerateContentResponse;
const cand = (parts: unknown[], extra: Record<string, unknown> = {}) => ({ content: { role: 'model', parts }, index: 0, ...extra });

describe('GeminiStreamTranslator: recorded streams', () => {
  it('google-text.chunks.txt', () => {
    const chunks = translate(lines(textChunks), true);
    expect(chunks.map((c) => c.choices[0] ?? null)).toEqual([
      { index: 0, delta: { role: 'assistant', content: 'There are **3**' }, finish_reason: null, logprobs: null },
      { index: 0, delta: { content: ' "r"s in strawberry.\n\nst**r**awbe**rr**y' }, finish_reason: null, logprobs: null },
      { index: 0, delta: {}, finish_reason: 'stop' },
      null,
    ]);
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-bH6LaZW8Fp_3nsEPqtaSwQ4']));
    expect(chunks.every((c) => c.model === 'gemini-3-pro-preview' && c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 9,
      completion_tokens: 23 + 185,
      total_tokens: 217,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 185 },
    });
  });

  it('google-tool-call.chunks.txt', () => {
    const events = lines(toolChunks);
    const chunks = translate(events);
    expect(chunks.map((c) => c.choices[0])).toEqual([
      {
        index: 0,
        delta: {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              index: 0,
              id: 'call_b36LacjwM668nsEP2tbsgQQ_0_0',
              type: 'function',
              function: { name: 'weather', arguments: '{"location":"San Francisco"}' },
              extra_content: { google: { thought_signature: events[0].candidates![0].content!.parts![0].thoughtSignature } },
            },
          ],
        },
        finish_reason: null,
        logprobs: null,
      },
      { index: 0, delta: {}, finish_reason: 'tool_calls' },
    ]);
  });

  it('issue-19758-prompt-block.json as a stream event is a 400 content_filter', () => {
    const t = new GeminiStreamTranslator('m', false);
    expect(() => t.onEvent(promptBlock)).toThrowError(expect.objectContaining({ status: 400, code: 'content_filter' }));
    expect(streamEventFailure(promptBlock, [])).toMatchObject({ status: 400, code: 'content_filter' });
  });
});

describe('GeminiStreamTranslator', () => {
  it('numbers calls across events and keeps several candidates apart', () => {
    const chunks = translate([
      ev([cand([{ text: 'A' }]), cand([{ functionCall: { name: 'f', args: { x: 1 } } }], { index: 1 })]),
      ev([cand([{ functionCall: { name: 'g', args: {} } }], { index: 1, finishReason: 'STOP' }), cand([{ text: 'B' }], { finishReason: 'MAX_TOKENS' })]),
    ]);
    expect(chunks.map((c) => c.choices[0])).toEqual([
      { index: 0, delta: { role: 'assistant', content: 'A' }, finish_reason: null, logprobs: null },
      {
        index: 1,
        delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_r1_1_0', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }] },
        finish_reason: null,
        logprobs: null,
      },
      { index: 1, delta: { tool_calls: [{ index: 1, id: 'call_r1_1_1', type: 'function', function: { name: 'g', arguments: '{}' } }] }, finish_reason: null, logprobs: null },
      { index: 1, delta: {}, finish_reason: 'tool_calls' },
      { index: 0, delta: { content: 'B' }, finish_reason: null, logprobs: null },
      { index: 0, delta: {}, finish_reason: 'length' },
    ]);
  });

  it('streams thought summaries as reasoning_content, apart from the content', () => {
    const chunks = translate([
      ev([cand([{ text: 'thinking…', thought: true }])]),
      ev([cand([{ text: ' more', thought: true }])]),
      ev([cand([{ text: 'Answer' }], { finishReason: 'STOP' })]),
    ]);
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', content: '', reasoning_content: 'thinking…' },
      { reasoning_content: ' more' },
      { content: 'Answer' },
      {},
    ]);
  });

  it('a candidate stopped for safety finishes with content_filter', () => {
    const chunks = translate([ev([cand([{ text: 'Sure, ' }])]), ev([{ index: 0, finishReason: 'SAFETY', safetyRatings: [] }])]);
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe('content_filter');
  });

  it('sends no usage chunk unless asked, and reports the usage either way (for usage accounting)', () => {
    const t = new GeminiStreamTranslator('fallback-model', false);
    expect(t.usage()).toBeNull();
    const chunks = [...t.onEvent(ev([cand([{ text: 'x' }], { finishReason: 'STOP' })], { usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 } })), ...t.onEnd()];
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(t.usage()).toMatchObject({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
  });

  it('an error event mid-stream throws the mapped error', () => {
    const t = new GeminiStreamTranslator('m', false);
    t.onEvent(ev([cand([{ text: 'x' }])]));
    expect(() => t.onEvent({ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } })).toThrowError(
      expect.objectContaining({ status: 503, code: 'upstream_unavailable' }),
    );
  });

  it.each<[string, GenerateContentResponse[]]>([
    ['no events at all', []],
    ['no finishReason', [ev([cand([{ text: 'x' }])])]],
    ['one of two candidates unfinished', [ev([cand([{ text: 'x' }], { finishReason: 'STOP' }), cand([{ text: 'y' }], { index: 1 })])]],
  ])('a stream that ends early (%s) is an error', (_name, events) => {
    expect(() => translate(events)).toThrowError(expect.objectContaining({ status: 502, code: 'upstream_stream_truncated' }));
  });

  it('the error chunk carries the error and the stream id', () => {
    const t = new GeminiStreamTranslator('m', false);
    t.onEvent(ev([cand([{ text: 'x' }])]));
    const c = t.errorChunk(new GatewayError(502, 'boom', 'upstream_error', null, 'upstream_unreachable'));
    expect(c).toMatchObject({ id: 'chatcmpl-r1', choices: [], error: { message: 'boom', code: 'upstream_unreachable' } });
  });
});

describe('geminiEvents', () => {
  const stream = (text: string) => new Response(text).body!;
  const collect = async (text: string) => {
    const out: GenerateContentResponse[] = [];
    for await (const e of geminiEvents(stream(text))) out.push(e);
    return out;
  };

  it('reads Gemini’s CRLF framing', async () => {
    expect(await collect('data: {"responseId":"a"}\r\n\r\ndata: {"responseId":"b"}\r\n\r\n')).toEqual([{ responseId: 'a' }, { responseId: 'b' }]);
  });

  it('a line that is not JSON is an upstream error', async () => {
    await expect(collect('data: {"responseId":"a"}\r\n\r\ndata: {trunc\r\n\r\n')).rejects.toMatchObject({ status: 502, code: 'upstream_bad_response' });
  });
});
