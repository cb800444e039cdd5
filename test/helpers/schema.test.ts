import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assertChatCompletion, assertChatCompletionChunk, assertErrorResponse } from './schema';

// The validators themselves must be able to fail, or every schema check elsewhere is empty.
const fixtures = new URL('../../../shared/fixtures/recorded/openai/', import.meta.url);

describe('OpenAI schema validators', () => {
  it('accept recorded OpenAI responses and chunks', () => {
    assertChatCompletion(JSON.parse(readFileSync(new URL('openai-text.json', fixtures), 'utf8')));
    for (const line of readFileSync(new URL('openai-text.chunks.txt', fixtures), 'utf8').split('\n').filter(Boolean)) {
      assertChatCompletionChunk(JSON.parse(line));
    }
  });

  it('reject malformed objects', () => {
    expect(() => assertChatCompletion({ id: 'x', choices: [{ index: 0 }] })).toThrow(/schema violation/);
    expect(() =>
      assertChatCompletionChunk({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'done' }] }),
    ).toThrow(/schema violation/);
    expect(() => assertErrorResponse({ error: { message: 'x' } })).toThrow(/schema violation/);
  });
});
