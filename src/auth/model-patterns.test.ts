import { describe, expect, it } from 'vitest';
import { modelAllowed, modelMatches, patternProblem } from './model-patterns';

describe('modelMatches', () => {
  const cases: [pattern: string, model: string, expected: boolean][] = [
    ['gpt-4o', 'gpt-4o', true],
    ['gpt-4o', 'gpt-4o-mini', false],
    ['gpt-4o', 'GPT-4o', false],
    ['gpt-4o', 'openai/gpt-4o', false],
    ['anthropic/*', 'anthropic/claude-sonnet-4-6', true],
    ['anthropic/*', 'anthropic/', true],
    ['anthropic/*', 'anthropic', false],
    ['anthropic/*', 'openai/gpt-4o', false],
    ['anthropic/*', 'x-anthropic/claude', false],
    ['*', 'anything/at-all', true],
    ['*', '', true],
    ['claude-*', 'claude-haiku', true],
    ['claude-*', 'anthropic/claude-haiku', false],
    ['*/gpt-4o', 'azure/gpt-4o', true],
    ['*/gpt-4o', 'azure/gpt-4o-mini', false],
    ['gemini/*-flash', 'gemini/gemini-2.5-flash', true],
    ['gemini/*-flash', 'gemini/gemini-2.5-flash-lite', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'acb', false],
    ['ab*ba', 'aba', false], // prefix and suffix may not overlap
    ['a*a*a', 'aaa', true],
    ['a*a*a', 'aa', false],
    ['**', 'x', true],
  ];
  it.each(cases)('%s ~ %s → %s', (pattern, model, expected) => expect(modelMatches(pattern, model)).toBe(expected));
});

describe('modelAllowed', () => {
  const cases: [name: string, patterns: string[] | null, model: string, expected: boolean][] = [
    ['no restriction', null, 'gpt-4o', true],
    ['exact name among several', ['gpt-4o', 'anthropic/*'], 'gpt-4o', true],
    ['pattern among several', ['gpt-4o', 'anthropic/*'], 'anthropic/claude-haiku-4-5', true],
    ['outside all patterns', ['gpt-4o', 'anthropic/*'], 'gemini/gemini-2.5-pro', false],
    ['an alias is its own name', ['anthropic/*'], 'claude-sonnet', false],
    ['empty list allows nothing', [], 'gpt-4o', false],
  ];
  it.each(cases)('%s', (_name, patterns, model, expected) => expect(modelAllowed(patterns, model)).toBe(expected));
});

describe('patternProblem', () => {
  const cases: [pattern: unknown, problem: string | null][] = [
    ['gpt-4o', null],
    ['anthropic/*', null],
    ['qwen2.5-7b@v1:latest', null],
    ['*', null],
    ['', 'must be a non-empty string'],
    [42, 'must be a non-empty string'],
    [null, 'must be a non-empty string'],
    ['gpt 4o', 'may only contain letters, digits, "." "_" ":" "@" "/" "-" and "*"'],
    ['gpt-4o?', 'may only contain letters, digits, "." "_" ":" "@" "/" "-" and "*"'],
    ['x'.repeat(201), 'is longer than 200 characters'],
  ];
  it.each(cases)('%j → %s', (pattern, problem) => expect(patternProblem(pattern)).toBe(problem));
});
