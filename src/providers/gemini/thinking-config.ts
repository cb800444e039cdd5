import { badRequest } from '../../openai/errors';
import type { RequestNotes } from '../provider';
import type { GeminiThinkingConfig } from './types';

// OpenAI's `reasoning_effort` → Gemini's thinkingConfig (the model table lets it
// through only for Gemini 2.5 and later). Google's own OpenAI-compatible endpoint maps
// low / medium / high to thinking budgets of 1K / 8K / 24K tokens and "none" to no
// thinking on Gemini 2.5; Gemini 3 takes a level instead (a budget and a level
// together are a 400). Every Gemini 3 model takes "low" and "high" (3 Pro takes only
// those), so the other efforts map to the nearer of the two. Gemini 2.5 Pro cannot
// turn thinking off: its smallest budget (128) stands in for "none". What is not
// sent as asked is named in x-switchboard-adapted. Thought summaries are asked for
// (includeThoughts) whenever the model thinks, and returned as reasoning_content.

const EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const;
type Effort = (typeof EFFORTS)[number];

const BUDGETS: Record<Effort, number> = { none: 0, minimal: 1024, low: 1024, medium: 8192, high: 24576, xhigh: 24576, max: 24576 };
/** What each effort is sent as, when that differs from the effort asked for. */
const BUDGET_AS: Partial<Record<Effort, string>> = { minimal: 'low', xhigh: 'high', max: 'high' };
const LEVELS: Record<Effort, 'low' | 'high'> = { none: 'low', minimal: 'low', low: 'low', medium: 'high', high: 'high', xhigh: 'high', max: 'high' };
const PRO_MIN_BUDGET = 128;

const isEffort = (value: unknown): value is Effort => (EFFORTS as readonly unknown[]).includes(value);

export function toThinkingConfig(effort: unknown, model: string, notes: RequestNotes): GeminiThinkingConfig {
  if (!isEffort(effort)) {
    throw badRequest(`reasoning_effort must be one of ${EFFORTS.map((e) => `"${e}"`).join(', ')}.`, 'reasoning_effort', 'invalid_value');
  }
  const id = model.slice(model.lastIndexOf('/') + 1).toLowerCase();
  const version = /^gemini-(\d+)/.exec(id);
  if (version && Number(version[1]) >= 3) {
    const level = LEVELS[effort];
    if (level !== effort) notes.adapted.push(`reasoning_effort=${level}`);
    return { thinkingLevel: level, includeThoughts: true };
  }
  if (effort === 'none' && /^gemini-2\.5-pro/.test(id)) {
    notes.adapted.push('reasoning_effort=minimal');
    return { thinkingBudget: PRO_MIN_BUDGET, includeThoughts: true };
  }
  const as = BUDGET_AS[effort];
  if (as) notes.adapted.push(`reasoning_effort=${as}`);
  return effort === 'none' ? { thinkingBudget: 0 } : { thinkingBudget: BUDGETS[effort], includeThoughts: true };
}
