import { describe, expect, it } from 'vitest';
import type { RequestNotes } from '../provider';
import { toThinkingConfig } from './thinking-config';

describe('toThinkingConfig', () => {
  it.each([
    ['gemini-2.5-flash', 'none', { thinkingBudget: 0 }, []],
    ['gemini-2.5-flash', 'minimal', { thinkingBudget: 1024, includeThoughts: true }, ['reasoning_effort=low']],
    ['gemini-2.5-flash', 'low', { thinkingBudget: 1024, includeThoughts: true }, []],
    ['gemini-2.5-flash-lite', 'medium', { thinkingBudget: 8192, includeThoughts: true }, []],
    ['models/gemini-2.5-flash', 'high', { thinkingBudget: 24576, includeThoughts: true }, []],
    ['gemini-2.5-flash', 'xhigh', { thinkingBudget: 24576, includeThoughts: true }, ['reasoning_effort=high']],
    ['gemini-2.5-pro', 'none', { thinkingBudget: 128, includeThoughts: true }, ['reasoning_effort=minimal']],
    ['gemini-2.5-pro', 'high', { thinkingBudget: 24576, includeThoughts: true }, []],
    ['gemini-3-pro-preview', 'low', { thinkingLevel: 'low', includeThoughts: true }, []],
    ['gemini-3-pro-preview', 'high', { thinkingLevel: 'high', includeThoughts: true }, []],
    ['gemini-3-flash-preview', 'medium', { thinkingLevel: 'high', includeThoughts: true }, ['reasoning_effort=high']],
    ['gemini-3.1-pro', 'minimal', { thinkingLevel: 'low', includeThoughts: true }, ['reasoning_effort=low']],
    ['gemini-3.1-pro', 'none', { thinkingLevel: 'low', includeThoughts: true }, ['reasoning_effort=low']],
    ['gemini-3.1-pro', 'max', { thinkingLevel: 'high', includeThoughts: true }, ['reasoning_effort=high']],
    ['gemini-2.5-flash', 'max', { thinkingBudget: 24576, includeThoughts: true }, ['reasoning_effort=high']],
  ])('%s, %s → %j', (model, effort, config, adapted) => {
    const notes: RequestNotes = { dropped: [], adapted: [] };
    expect(toThinkingConfig(effort, model, notes)).toEqual(config);
    expect(notes).toEqual({ dropped: [], adapted });
  });

  it.each([['extreme'], [3], [null]])('refuses %j with a 400 naming reasoning_effort', (effort) => {
    expect(() => toThinkingConfig(effort, 'gemini-2.5-flash', { dropped: [], adapted: [] })).toThrow(
      expect.objectContaining({ status: 400, param: 'reasoning_effort', code: 'invalid_value' }),
    );
  });
});
