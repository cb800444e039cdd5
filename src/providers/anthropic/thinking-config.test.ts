import { describe, expect, it } from 'vitest';
import type { RequestNotes } from '../provider';
import { thinkingFamily, thinks, toClaudeThinking } from './thinking-config';

const convert = (effort: unknown, model: string, maxTokens = 64000) => {
  const notes: RequestNotes = { dropped: [], adapted: [] };
  return { config: toClaudeThinking(effort, model, maxTokens, notes), notes };
};
const adaptive = (effort: string) => ({ thinking: { type: 'adaptive', display: 'summarized' }, effort });

describe('thinkingFamily', () => {
  it.each([
    ['claude-3-7-sonnet-20250219', 'budget'],
    ['claude-sonnet-4-20250514', 'budget'],
    ['claude-opus-4-1', 'budget'],
    ['claude-haiku-4-5-20251001', 'budget'],
    ['claude-opus-4-5', 'budget'],
    ['claude-sonnet-4-6', 'adaptive'],
    ['claude-opus-4-6', 'adaptive'],
    ['claude-opus-4-8', 'adaptive'],
    ['claude-sonnet-5-5', 'adaptive'],
    ['claude-mythos-preview', 'adaptive'],
    ['models/CLAUDE-SONNET-4-5', 'budget'],
  ])('%s → %s', (model, mode) => {
    expect(thinkingFamily(model).mode).toBe(mode);
  });
});

describe('toClaudeThinking', () => {
  it.each([
    // manual mode: budgets as Google maps them for Gemini; minimal/max named
    ['claude-sonnet-4-5', 'none', {}, []],
    ['claude-sonnet-4-5', 'minimal', { thinking: { type: 'enabled', budget_tokens: 1024 } }, ['reasoning_effort=low']],
    ['claude-sonnet-4-5', 'low', { thinking: { type: 'enabled', budget_tokens: 1024 } }, []],
    ['claude-sonnet-4-5', 'medium', { thinking: { type: 'enabled', budget_tokens: 8192 } }, []],
    ['claude-sonnet-4-5', 'high', { thinking: { type: 'enabled', budget_tokens: 24576 } }, []],
    ['claude-sonnet-4-5', 'xhigh', { thinking: { type: 'enabled', budget_tokens: 32768 } }, []],
    ['claude-sonnet-4-5', 'max', { thinking: { type: 'enabled', budget_tokens: 32768 } }, ['reasoning_effort=xhigh']],
    // adaptive: the nearest lower effort the model takes
    ['claude-sonnet-4-6', 'xhigh', adaptive('high'), ['reasoning_effort=high']],
    ['claude-sonnet-4-6', 'max', adaptive('high'), ['reasoning_effort=high']],
    ['claude-opus-4-6', 'xhigh', adaptive('high'), ['reasoning_effort=high']],
    ['claude-opus-4-6', 'max', adaptive('max'), []],
    ['claude-opus-4-7', 'minimal', adaptive('low'), ['reasoning_effort=low']],
    ['claude-opus-4-7', 'medium', adaptive('medium'), []],
    ['claude-opus-4-7', 'xhigh', adaptive('xhigh'), []],
    ['claude-opus-4-6', 'none', { thinking: { type: 'disabled' } }, []],
    // Claude 5 always thinks: the lowest effort stands in for none
    ['claude-opus-5', 'none', { effort: 'low' }, ['reasoning_effort=low']],
  ] as const)('%s, %s → %j', (model, effort, expected, adapted) => {
    const { config, notes } = convert(effort, model);
    expect(config).toEqual(expected);
    expect(notes).toEqual({ dropped: [], adapted });
  });

  it.each([
    // the budget must stay below max_tokens: else lowered to leave the answer 1024 tokens
    [24577, { thinking: { type: 'enabled', budget_tokens: 24576 } }, { dropped: [], adapted: [] }],
    [24576, { thinking: { type: 'enabled', budget_tokens: 23552 } }, { dropped: [], adapted: ['thinking.budget_tokens=23552'] }],
    [16384, { thinking: { type: 'enabled', budget_tokens: 15360 } }, { dropped: [], adapted: ['thinking.budget_tokens=15360'] }],
    [2048, { thinking: { type: 'enabled', budget_tokens: 1024 } }, { dropped: [], adapted: ['thinking.budget_tokens=1024'] }],
    // not even the smallest budget fits: no thinking, reasoning_effort dropped
    [2047, {}, { dropped: ['reasoning_effort'], adapted: [] }],
  ] as const)('high with max_tokens %i → %j', (maxTokens, expected, expectedNotes) => {
    const { config, notes } = convert('high', 'claude-sonnet-4-5', maxTokens);
    expect(config).toEqual(expected);
    expect(notes).toEqual(expectedNotes);
  });

  it('leaves max_tokens alone on adaptive models (it caps thinking and answer together)', () => {
    expect(convert('max', 'claude-opus-4-7', 100).config).toEqual(adaptive('max'));
  });

  it.each(['extreme', 5, null, ''])('rejects %j naming reasoning_effort', (effort) => {
    expect(() => convert(effort, 'claude-sonnet-4-5')).toThrow(expect.objectContaining({ status: 400, param: 'reasoning_effort' }));
  });

  it('says whether a configuration makes the model think', () => {
    expect([{}, { thinking: { type: 'disabled' as const } }, { thinking: { type: 'enabled' as const, budget_tokens: 1024 } }, { effort: 'low' as const }].map(thinks)).toEqual([false, false, true, true]);
  });
});
