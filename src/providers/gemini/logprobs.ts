import type { GeminiLogprobsCandidate, GeminiLogprobsResult } from './types';

// Gemini logprobsResult (responseLogprobs / logprobs) → OpenAI choice.logprobs.

export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs: { token: string; logprob: number; bytes: number[] | null }[];
}

export interface ChoiceLogprobs {
  content: TokenLogprob[];
  refusal: null;
}

const encoder = new TextEncoder();

const entry = (c: GeminiLogprobsCandidate) => {
  const token = c.token ?? '';
  return { token, logprob: c.logProbability ?? 0, bytes: [...encoder.encode(token)] };
};

/** null when Gemini sent none (logprobs were not asked for). */
export function toLogprobs(result: GeminiLogprobsResult | undefined): ChoiceLogprobs | null {
  const chosen = result?.chosenCandidates;
  if (!chosen || chosen.length === 0) return null;
  return {
    content: chosen.map((c, i) => ({ ...entry(c), top_logprobs: (result.topCandidates?.[i]?.candidates ?? []).map(entry) })),
    refusal: null,
  };
}
