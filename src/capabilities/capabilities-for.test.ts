import { describe, expect, it } from 'vitest';
import { defaultMaxTokens } from '../providers/anthropic/to-anthropic-request';
import { supportsSystemInstruction } from '../providers/gemini/model-capabilities';
import type { Target } from '../routing/catalog';
import { capabilitiesFor, tableCapabilities } from './capabilities-for';
import { MODEL_TABLE } from './model-table';

const target = (name: string, options: Target['options'] = {}): Target => {
  const [provider, ...model] = name.split('/');
  return { name, provider: provider as Target['provider'], model: model.join('/'), options };
};

describe('tableCapabilities', () => {
  it.each([
    ['openai', 'gpt-5-mini', 'openai/gpt-5*'],
    ['openai', 'gpt-5-chat-latest', 'openai/gpt-5*-chat*'],
    ['openai', 'o1-mini-2024-09-12', 'openai/o1-mini'],
    ['openai', 'o3', 'openai/o1, o3, o4-mini, …'],
    ['openai', 'gpt-4o-mini', 'openai/gpt-4o*'],
    ['openai', 'GPT-4o', 'openai/gpt-4o*'],
    ['azure', 'gpt-5-prod', 'azure/gpt-5*'],
    ['azure', 'prod-deployment', 'azure/* (not in the table)'],
    ['anthropic', 'claude-opus-4-8', 'anthropic/claude-opus-4-7, claude-opus-4-8'],
    ['anthropic', 'claude-opus-4-5-20251101', 'anthropic/claude-sonnet-4-5, -4-6, claude-haiku-4-5, claude-opus-4-5'],
    ['anthropic', 'claude-opus-4-20250514', 'anthropic/claude-opus-4'],
    ['anthropic', 'claude-3-5-sonnet-latest', 'anthropic/claude-3-5-*'],
    ['gemini', 'models/gemini-2.5-flash-lite', 'gemini/gemini-2.5*'],
    ['gemini', 'gemini-2.0-flash-thinking-exp-01-21', 'gemini/gemini-2.0-*thinking*, gemini-exp-*'],
    ['gemini', 'gemma-3n-e4b-it', 'gemini/gemma-*'],
  ] as const)('%s/%s → %s', (provider, model, family) => {
    expect(tableCapabilities(provider, model).family).toBe(family);
  });

  it('matches each row’s own example to that row (no row shadows a later one)', () => {
    for (const [provider, rows] of Object.entries(MODEL_TABLE)) {
      for (const row of rows) expect(tableCapabilities(provider as Target['provider'], row.example).family).toBe(`${provider}/${row.family}`);
    }
  });

  it('agrees with the Anthropic translation’s default max_tokens', () => {
    for (const row of MODEL_TABLE.anthropic) {
      expect([row.example, tableCapabilities('anthropic', row.example).default_max_tokens]).toEqual([row.example, defaultMaxTokens(row.example)]);
    }
  });

  it('agrees with the Gemini translation on which models have no system instruction', () => {
    for (const row of MODEL_TABLE.gemini) {
      const caps = tableCapabilities('gemini', row.example);
      expect([row.example, caps.system === 'native']).toEqual([row.example, supportsSystemInstruction(row.example, {})]);
    }
  });
});

describe('capabilitiesFor', () => {
  it('caches per model: the same object for the same deployment', () => {
    expect(capabilitiesFor(target('openai/gpt-5'))).toBe(capabilitiesFor(target('openai/gpt-5')));
    const options = { capabilities: { max_output_tokens: 1000 } };
    expect(capabilitiesFor(target('openai/gpt-5', options))).toBe(capabilitiesFor(target('openai/gpt-5', options)));
  });

  it('applies a deployment’s settings over the table', () => {
    const caps = capabilitiesFor(target('azure/prod', { capabilities: { like: 'gpt-5', max_output_tokens: 32000, image_formats: ['image/png'] } }));
    expect(caps).toMatchObject({ family: 'azure/gpt-5* (like gpt-5)', temperature: 'default_only', max_output_tokens: 32000, image_formats: ['image/png'] });
    expect(capabilitiesFor(target('gemini/gemini-2.5-flash', { system_instruction: false })).system).toBe('fold');
    expect(capabilitiesFor(target('gemini/gemma-3-27b-it', { system_instruction: true })).system).toBe('native');
    expect(capabilitiesFor(target('anthropic/claude-sonnet-4-5', { default_max_tokens: 1000 })).default_max_tokens).toBe(1000);
    expect(capabilitiesFor(target('anthropic/claude-sonnet-4-5', { capabilities: { max_output_tokens: null } })).max_output_tokens).toBeNull();
  });

  it.each([
    [{ capabilities: 'fast' }, 'MODELS["openai/gpt-5"].capabilities must be a table'],
    [{ capabilities: { max_output: 5 } }, 'capabilities.max_output is not a capability'],
    [{ capabilities: { temperature: 'low' } }, 'capabilities.temperature must be one of "any", "default_only", "none"'],
    [{ capabilities: { max_output_tokens: -1 } }, 'capabilities.max_output_tokens must be a positive integer'],
    [{ capabilities: { image_formats: ['image/bmp'] } }, 'capabilities.image_formats must be a list of'],
    [{ capabilities: { vision: 'yes' } }, 'capabilities.vision must be true or false'],
    [{ capabilities: { like: 3 } }, 'capabilities.like must be a model name'],
  ])('names a bad setting %j as a configuration error', (options, message) => {
    expect(() => capabilitiesFor(target('openai/gpt-5', options as Target['options']))).toThrow(expect.objectContaining({ status: 500, code: 'gateway_misconfigured', message: expect.stringContaining(message) }));
  });
});
