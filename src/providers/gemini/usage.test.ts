import { describe, expect, it } from 'vitest';
import type { GeminiUsageMetadata } from './types';
import { toUsage } from './usage';

describe('toUsage', () => {
  it.each<[string, GeminiUsageMetadata | undefined, [number, number, number, number, number]]>([
    ['missing', undefined, [0, 0, 0, 0, 0]],
    ['plain', { promptTokenCount: 12, candidatesTokenCount: 5, totalTokenCount: 17 }, [12, 5, 17, 0, 0]],
    // google-text.json: 9 + 28 + 244 thinking = 281 = totalTokenCount
    ['thinking', { promptTokenCount: 9, candidatesTokenCount: 28, totalTokenCount: 281, thoughtsTokenCount: 244 }, [9, 272, 281, 0, 244]],
    ['cached prompt', { promptTokenCount: 2000, candidatesTokenCount: 10, totalTokenCount: 2010, cachedContentTokenCount: 1536 }, [2000, 10, 2010, 1536, 0]],
    ['prompt blocked: no candidates', { promptTokenCount: 9, totalTokenCount: 9 }, [9, 0, 9, 0, 0]],
    ['tool-use prompt', { promptTokenCount: 10, toolUsePromptTokenCount: 4, candidatesTokenCount: 1, totalTokenCount: 15 }, [14, 1, 15, 0, 0]],
  ])('%s', (_name, metadata, [prompt, completion, total, cached, reasoning]) => {
    expect(toUsage(metadata)).toEqual({
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: total,
      prompt_tokens_details: { cached_tokens: cached },
      completion_tokens_details: { reasoning_tokens: reasoning },
    });
  });
});
