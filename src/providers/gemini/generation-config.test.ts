import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../../openai/types';
import type { RequestNotes } from '../provider';
import { toGenerationConfig } from './generation-config';

const run = (extra: Partial<ChatCompletionRequest>) => {
  const notes: RequestNotes = { dropped: [], adapted: [] };
  return { config: toGenerationConfig({ model: 'm', messages: [], ...extra }, notes), notes };
};

describe('toGenerationConfig', () => {
  it.each<[string, Partial<ChatCompletionRequest>, unknown]>([
    ['nothing set', {}, undefined],
    ['nulls are unset', { temperature: null, top_p: null, stop: null, n: null, seed: null }, undefined],
    [
      'the agent benchmark parameters',
      { temperature: 0.2, top_p: 0.9, max_tokens: 512, frequency_penalty: 0.5 },
      { temperature: 0.2, topP: 0.9, maxOutputTokens: 512, frequencyPenalty: 0.5 },
    ],
    ['temperature 0 is kept', { temperature: 0 }, { temperature: 0 }],
    ['max_completion_tokens wins over max_tokens', { max_tokens: 10, max_completion_tokens: 20 }, { maxOutputTokens: 20 }],
    ['stop string', { stop: 'END' }, { stopSequences: ['END'] }],
    ['stop list, empty strings left out', { stop: ['a', '', 'b'] }, { stopSequences: ['a', 'b'] }],
    ['n, seed, presence penalty', { n: 3, seed: 42, presence_penalty: -1 }, { candidateCount: 3, seed: 42, presencePenalty: -1 }],
    ['top_k (an extra Gemini understands)', { top_k: 40 }, { topK: 40 }],
    ['json_object', { response_format: { type: 'json_object' } }, { responseMimeType: 'application/json' }],
    ['text format is the default', { response_format: { type: 'text' } }, undefined],
    [
      'json_schema',
      { response_format: { type: 'json_schema', json_schema: { name: 'r', strict: true, schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false } } } },
      { responseMimeType: 'application/json', responseSchema: { type: 'OBJECT', properties: { ok: { type: 'BOOLEAN' } }, required: ['ok'] } },
    ],
    ['json_schema without a schema', { response_format: { type: 'json_schema', json_schema: { name: 'r' } } }, { responseMimeType: 'application/json' }],
    ['logprobs', { logprobs: true, top_logprobs: 5 }, { responseLogprobs: true, logprobs: 5 }],
    ['logprobs false', { logprobs: false }, undefined],
  ])('%s', (_name, extra, expected) => {
    const { config, notes } = run(extra);
    expect(config).toEqual(expected);
    expect(notes).toEqual({ dropped: [], adapted: [] });
  });

  it('reports top_logprobs without logprobs', () => {
    expect(run({ top_logprobs: 3 }).notes.dropped).toEqual(['top_logprobs']);
  });

  it('reports response-schema keywords it cannot convert', () => {
    const { notes } = run({
      response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } } } },
    });
    expect(notes.dropped).toEqual(['response_format.json_schema.schema.properties.tags.uniqueItems']);
  });
});
