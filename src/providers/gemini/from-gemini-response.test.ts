import { describe, expect, it } from 'vitest';
import promptBlock from '../../../../shared/fixtures/recorded/gemini/issue-19758-prompt-block.json';
import textFixture from '../../../../shared/fixtures/recorded/gemini/google-text.json';
import toolFixture from '../../../../shared/fixtures/recorded/gemini/google-tool-call.json';
import { fromGeminiResponse } from './from-gemini-response';
import type { GeminiCandidate, GeminiPart, GenerateContentResponse } from './types';

const candidate = (parts: GeminiPart[], extra: Partial<GeminiCandidate> = {}): GeminiCandidate => ({ content: { role: 'model', parts }, finishReason: 'STOP', ...extra });

describe('fromGeminiResponse: recorded responses', () => {
  it('google-text.json', () => {
    const completion = fromGeminiResponse(textFixture, 'fallback');
    expect(completion).toMatchObject({
      id: 'chatcmpl-Un6LacrVMcjUxs0PmJfWoQc',
      object: 'chat.completion',
      model: 'gemini-3-pro-preview',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.", refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: 9,
        completion_tokens: 272,
        total_tokens: 281,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 244 },
      },
    });
    expect(completion.choices[0].message.tool_calls).toBeUndefined();
  });

  it('google-tool-call.json', () => {
    const completion = fromGeminiResponse(toolFixture, 'fallback');
    expect(completion.choices).toEqual([
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            {
              id: 'call_m36LaZGyCLz1xs0PtNSB-QU_0_0',
              type: 'function',
              function: { name: 'weather', arguments: '{"location":"San Francisco"}' },
              extra_content: { google: { thought_signature: toolFixture.candidates[0].content.parts[0].thoughtSignature } },
            },
          ],
        },
        finish_reason: 'tool_calls',
        logprobs: null,
      },
    ]);
    expect(completion.usage?.completion_tokens).toBe(15 + 893);
  });

  it('issue-19758-prompt-block.json is a 400 content_filter naming the reason', () => {
    expect(() => fromGeminiResponse(promptBlock, 'fallback')).toThrowError(
      expect.objectContaining({ status: 400, code: 'content_filter', param: 'messages', message: expect.stringContaining('PROHIBITED_CONTENT') }),
    );
  });
});

describe('fromGeminiResponse', () => {
  it('gives the same tool-call ids every time it sees the same response', () => {
    const response: GenerateContentResponse = {
      responseId: 'r1',
      candidates: [candidate([{ text: 'a' }, { functionCall: { name: 'f', args: {} } }, { functionCall: { name: 'g' } }])],
    };
    const ids = () => fromGeminiResponse(response, 'm').choices[0].message.tool_calls?.map((c) => c.id);
    expect(ids()).toEqual(['call_r1_0_0', 'call_r1_0_1']);
    expect(ids()).toEqual(ids());
  });

  it('keeps text beside calls, reads args of a call without args as {}', () => {
    const { message, finish_reason } = fromGeminiResponse(
      { responseId: 'r', candidates: [candidate([{ text: 'Checking.' }, { functionCall: { name: 'now' } }])] },
      'm',
    ).choices[0];
    expect(message.content).toBe('Checking.');
    expect(message.tool_calls?.[0].function).toEqual({ name: 'now', arguments: '{}' });
    expect(finish_reason).toBe('tool_calls');
  });

  it('returns thought summaries as reasoning_content, out of the content', () => {
    const { message } = fromGeminiResponse(
      { candidates: [candidate([{ text: 'Let me think about r letters...', thought: true }, { text: 'Three.' }, { text: '', thoughtSignature: 'c2ln' }])] },
      'm',
    ).choices[0];
    expect(message.content).toBe('Three.');
    expect(message.reasoning_content).toBe('Let me think about r letters...');
    expect(fromGeminiResponse({ candidates: [candidate([{ text: 'Three.' }])] }, 'm').choices[0].message).not.toHaveProperty('reasoning_content');
  });

  it('maps several candidates to choices ordered by index', () => {
    const completion = fromGeminiResponse(
      {
        responseId: 'r',
        candidates: [candidate([{ text: 'second' }], { index: 1 }), candidate([{ text: 'first' }], { index: 0, finishReason: 'MAX_TOKENS' })],
      },
      'm',
    );
    expect(completion.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'first', 'length'],
      [1, 'second', 'stop'],
    ]);
  });

  it('a candidate blocked for safety has no content and a content_filter finish', () => {
    const { message, finish_reason } = fromGeminiResponse({ candidates: [{ finishReason: 'SAFETY', index: 0, safetyRatings: [] }] }, 'm').choices[0];
    expect(message.content).toBeNull();
    expect(finish_reason).toBe('content_filter');
  });

  it('an empty answer is an empty string, not null', () => {
    expect(fromGeminiResponse({ candidates: [candidate([])] }, 'm').choices[0].message.content).toBe('');
  });

  it('uses the configured model and a fresh id when Gemini sends neither', () => {
    const completion = fromGeminiResponse({ candidates: [candidate([{ text: 'x' }])] }, 'gemini-2.5-flash');
    expect(completion.model).toBe('gemini-2.5-flash');
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
  });

  it('maps logprobs', () => {
    const { logprobs } = fromGeminiResponse(
      { candidates: [candidate([{ text: 'Hi' }], { logprobsResult: { chosenCandidates: [{ token: 'Hi', logProbability: -0.5 }], topCandidates: [{ candidates: [] }] } })] },
      'm',
    ).choices[0];
    expect(logprobs).toEqual({ content: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [] }], refusal: null });
  });

  it('no candidates and no block reason is an upstream fault', () => {
    expect(() => fromGeminiResponse({ usageMetadata: { promptTokenCount: 3 } }, 'm')).toThrowError(expect.objectContaining({ status: 502 }));
  });

  it('a block message is included', () => {
    expect(() => fromGeminiResponse({ promptFeedback: { blockReason: 'OTHER', blockReasonMessage: 'policy' } }, 'm')).toThrowError(
      expect.objectContaining({ message: expect.stringContaining('(OTHER: policy)') }),
    );
  });
});
