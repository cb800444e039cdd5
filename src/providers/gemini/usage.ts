import type { Usage } from '../../openai/types';
import type { GeminiUsageMetadata } from './types';

// Gemini usageMetadata → OpenAI usage. Thinking tokens are billed as output, so they
// count as completion tokens (and are shown as reasoning_tokens, as OpenAI does for
// o-series models); tokens of tool-use prompts count as prompt tokens. So
// total = prompt + completion, as Gemini's own totalTokenCount.

export function toUsage(metadata: GeminiUsageMetadata | undefined): Usage {
  const prompt = (metadata?.promptTokenCount ?? 0) + (metadata?.toolUsePromptTokenCount ?? 0);
  const thoughts = metadata?.thoughtsTokenCount ?? 0;
  const completion = (metadata?.candidatesTokenCount ?? 0) + thoughts;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: metadata?.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
}
