import type { OutputConfig, ThinkingConfigParam } from '@anthropic-ai/sdk/resources/messages/messages';
import { badRequest } from '../../openai/errors';
import type { RequestNotes } from '../provider';

// OpenAI's `reasoning_effort` → Claude's thinking (the model table lets it through
// only for the Claude models that think). Claude has two ways to ask for thinking,
// and which one a model takes depends on its generation (Anthropic's "Troubleshooting
// thinking" page, per model):
//   - manual extended thinking, `thinking: {type: "enabled", budget_tokens: N}`:
//     the only mode of Claude 3.7 Sonnet and the 4.0 – 4.5 models. N must be at least
//     1024 and below max_tokens (thinking tokens count toward max_tokens). The budgets
//     are the ones Google's OpenAI-compatible endpoint uses for Gemini (low 1K,
//     medium 8K, high 24K), so an effort costs about the same on either;
//   - adaptive thinking, `thinking: {type: "adaptive"}` with `output_config.effort`:
//     Claude 4.6 and later (4.7 and later reject the manual mode with a 400). Which
//     effort levels a model takes differs (Sonnet 4.6: low – high; Opus 4.6 adds max;
//     Opus 4.7 and later add xhigh); an effort a model lacks becomes the nearest
//     lower one. The newest models default to `display: "omitted"` (empty thinking
//     text), so `summarized` is asked for: the client asked to see reasoning.
// `none` turns thinking off where a model can (`disabled`, or simply no `thinking`
// on the manual-mode models, where it is off by default); Claude 5 and later think
// always, so there the lowest effort stands in. Whatever is not sent as asked is
// named in x-switchboard-adapted.

const EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const;
type Effort = (typeof EFFORTS)[number];
type ClaudeEffort = NonNullable<OutputConfig['effort']>;

/** Claude's smallest thinking budget ("Input should be greater than or equal to 1024"). */
export const MIN_BUDGET_TOKENS = 1024;
/** What is left for the answer when a budget is lowered to fit under max_tokens. */
export const ANSWER_ROOM_TOKENS = 1024;

const BUDGETS: Record<Exclude<Effort, 'none'>, number> = { minimal: 1024, low: 1024, medium: 8192, high: 24576, xhigh: 32768, max: 32768 };
/** What each effort is sent as in manual mode, when that differs from the effort asked for. */
const BUDGET_AS: Partial<Record<Effort, string>> = { minimal: 'low', max: 'xhigh' };

const ALL_EFFORTS: ClaudeEffort[] = ['low', 'medium', 'high', 'xhigh', 'max'];

export type ThinkingFamily =
  | { mode: 'budget' }
  | { mode: 'adaptive'; efforts: ClaudeEffort[]; /** Whether `thinking: {type: "disabled"}` is accepted. */ canDisable: boolean };

/** How a Claude model is asked to think, from its id. */
export function thinkingFamily(model: string): ThinkingFamily {
  const id = model.slice(model.lastIndexOf('/') + 1).toLowerCase();
  if (/^claude-(sonnet|opus|haiku)-([5-9]|\d{2})|^claude-(fable|mythos)/.test(id)) return { mode: 'adaptive', efforts: ALL_EFFORTS, canDisable: false };
  if (/^claude-opus-4-[78]/.test(id)) return { mode: 'adaptive', efforts: ALL_EFFORTS, canDisable: true };
  if (/^claude-opus-4-6/.test(id)) return { mode: 'adaptive', efforts: ['low', 'medium', 'high', 'max'], canDisable: true };
  if (/^claude-sonnet-4-6/.test(id)) return { mode: 'adaptive', efforts: ['low', 'medium', 'high'], canDisable: true };
  if (/^claude-3-7-|^claude-(opus|sonnet)-4(-0|-\d{8}|$)|^claude-opus-4-1|^claude-(sonnet|haiku|opus)-4-5/.test(id)) return { mode: 'budget' };
  // A name this gateway cannot read (a deployment that turned reasoning_effort on for
  // it): the mode every model since 4.6 takes.
  return { mode: 'adaptive', efforts: ALL_EFFORTS, canDisable: true };
}

export interface ClaudeThinking {
  thinking?: ThinkingConfigParam;
  effort?: ClaudeEffort;
}

/** Whether a request with this configuration makes the model think (what some other parameters are incompatible with). */
export const thinks = (t: ClaudeThinking) => t.thinking?.type === 'enabled' || t.thinking?.type === 'adaptive' || t.effort !== undefined;

export function isReasoningEffort(value: unknown): value is Effort {
  return (EFFORTS as readonly unknown[]).includes(value);
}

export function checkReasoningEffort(value: unknown): Effort {
  if (!isReasoningEffort(value)) {
    throw badRequest(`reasoning_effort must be one of ${EFFORTS.map((e) => `"${e}"`).join(', ')}.`, 'reasoning_effort', 'invalid_value');
  }
  return value;
}

/**
 * The thinking configuration for `effort` on `model`, whose request has `maxTokens`.
 * A budget that does not fit under max_tokens is lowered to leave the answer
 * ANSWER_ROOM_TOKENS (`thinking.budget_tokens=N`); if even the smallest budget does
 * not fit, thinking stays off and `reasoning_effort` is named as dropped.
 */
export function toClaudeThinking(value: unknown, model: string, maxTokens: number, notes: RequestNotes): ClaudeThinking {
  const effort = checkReasoningEffort(value);
  const family = thinkingFamily(model);
  if (family.mode === 'budget') {
    if (effort === 'none') return {};
    const as = BUDGET_AS[effort];
    let budget = BUDGETS[effort];
    if (budget >= maxTokens) {
      const fitted = maxTokens - ANSWER_ROOM_TOKENS;
      if (fitted < MIN_BUDGET_TOKENS) {
        notes.dropped.push('reasoning_effort');
        return {};
      }
      budget = fitted;
      notes.adapted.push(`thinking.budget_tokens=${budget}`);
    } else if (as) notes.adapted.push(`reasoning_effort=${as}`);
    return { thinking: { type: 'enabled', budget_tokens: budget } };
  }
  if (effort === 'none') {
    if (family.canDisable) return { thinking: { type: 'disabled' } };
    notes.adapted.push('reasoning_effort=low');
    return { effort: 'low' };
  }
  const level = nearestEffort(effort, family.efforts);
  if (level !== effort) notes.adapted.push(`reasoning_effort=${level}`);
  return { thinking: { type: 'adaptive', display: 'summarized' }, effort: level };
}

/** The effort itself if the model takes it, else the nearest lower one it takes. */
function nearestEffort(effort: Exclude<Effort, 'none'>, efforts: ClaudeEffort[]): ClaudeEffort {
  const wanted: ClaudeEffort = effort === 'minimal' ? 'low' : effort;
  for (let i = ALL_EFFORTS.indexOf(wanted); i > 0; i--) if (efforts.includes(ALL_EFFORTS[i])) return ALL_EFFORTS[i];
  return 'low';
}
