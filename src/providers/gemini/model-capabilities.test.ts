import { describe, expect, it } from 'vitest';
import { requiresThoughtSignatures, supportsSystemInstruction } from './model-capabilities';

describe('supportsSystemInstruction', () => {
  it.each([
    ['gemini-1.5-flash', {}, true],
    ['gemini-2.5-pro', {}, true],
    ['gemini-3-pro-preview', {}, true],
    ['gemma-3-27b-it', {}, false],
    ['models/gemma-3n-e4b-it', {}, false],
    ['gemini-pro', {}, false],
    ['gemini-1.0-pro-001', {}, false],
    ['gemini-pro-vision', {}, false],
    ['gemini-1.0-pro-latest', {}, false],
    ['gemini-1.5-pro', {}, true],
    ['gemma-3-27b-it', { system_instruction: true }, true],
    ['gemini-2.0-flash-exp-image-generation', { system_instruction: false }, false],
  ])('%s %j → %s', (model, options, expected) => {
    expect(supportsSystemInstruction(model, options)).toBe(expected);
  });
});

describe('requiresThoughtSignatures', () => {
  it.each([
    ['gemini-3-pro-preview', true],
    ['gemini-3.1-flash', true],
    ['models/gemini-4-pro', true],
    ['gemini-2.5-flash', false],
    ['gemini-1.5-pro', false],
    ['gemma-3-27b-it', false],
    ['tunedModels/my-model', false],
  ])('%s → %s', (model, expected) => {
    expect(requiresThoughtSignatures(model)).toBe(expected);
  });
});
