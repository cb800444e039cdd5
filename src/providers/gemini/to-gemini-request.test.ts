import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../../openai/types';
import type { DeploymentOptions, Target } from '../../routing/catalog';
import type { RequestNotes } from '../provider';
import { toGeminiRequest } from './to-gemini-request';

const target = (model: string, options: DeploymentOptions = {}): Target => ({ name: `gemini/${model}`, provider: 'gemini' as Target['provider'], model, options });

function run(extra: Partial<ChatCompletionRequest>, t: Target = target('gemini-2.5-flash')) {
  const notes: RequestNotes = { dropped: [], adapted: [] };
  const body = toGeminiRequest({ model: 'x', messages: [{ role: 'user', content: 'hi' }], ...extra }, t, new Map(), notes);
  return { body, notes };
}

describe('toGeminiRequest', () => {
  it('a plain request is contents only', () => {
    expect(run({})).toEqual({ body: { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, notes: { dropped: [], adapted: [] } });
  });

  it('assembles every section', () => {
    const { body } = run(
      {
        messages: [
          { role: 'system', content: 'S' },
          { role: 'user', content: 'q' },
        ],
        temperature: 0.5,
        max_tokens: 100,
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }],
        tool_choice: 'required',
        stream: true,
        stream_options: { include_usage: true },
      },
      target('gemini-2.5-pro', { safety_settings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }] }),
    );
    expect(body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'q' }] }],
      systemInstruction: { parts: [{ text: 'S' }] },
      generationConfig: { temperature: 0.5, maxOutputTokens: 100 },
      tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'OBJECT', properties: { a: { type: 'STRING' } } } }] }],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
    });
  });

  it('folds the system prompt for a Gemma model', () => {
    const { body, notes } = run({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'q' }] }, target('gemma-3-27b-it'));
    expect(body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'S' }, { text: 'q' }] }] });
    expect(notes.adapted).toEqual(['system_instruction=first_user_turn']);
  });

  it.each<[string, Partial<ChatCompletionRequest>, string[]]>([
    ['logit_bias, user', { logit_bias: { '1': 2 }, user: 'u-1' }, ['logit_bias', 'user']],
    ['parallel_tool_calls: false cannot be honoured', { parallel_tool_calls: false }, ['parallel_tool_calls']],
    ['parallel_tool_calls: true is what Gemini does', { parallel_tool_calls: true }, []],
    ['unknown extras', { repetition_penalty: 1.1, guided_json: {}, metadata: { a: 'b' } }, ['repetition_penalty', 'guided_json', 'metadata']],
    ['a top_k that is not a number', { top_k: 'many' }, ['top_k']],
    ['nulls are not parameters', { logit_bias: null, user: undefined, seed: null }, []],
  ])('drops %s', (_name, extra, dropped) => {
    expect(run(extra).notes.dropped).toEqual(dropped);
  });

  it('refuses malformed safety settings as a configuration error', () => {
    expect(() => run({}, target('gemini-2.5-flash', { safety_settings: [{ category: 'X' }] as never }))).toThrowError(
      expect.objectContaining({ status: 500, code: 'gateway_misconfigured' }),
    );
  });
});
