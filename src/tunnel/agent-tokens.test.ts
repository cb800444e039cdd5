import { describe, expect, it } from 'vitest';
import { agentTokenValid, identifyAgent, scopeRefusal, storedTokenVerdict } from './agent-tokens';

describe('agentTokenValid (the AGENT_TOKENS bootstrap)', () => {
  it.each([
    ['the only token', 'tok-a', 'tok-a', true],
    ['one of several, spaces around', ' tok-a , tok-b ', 'tok-b', true],
    ['wrong token', 'tok-a,tok-b', 'tok-c', false],
    ['a prefix of a token', 'tok-abc', 'tok-ab', false],
    ['no token presented', 'tok-a', null, false],
    ['no tokens configured', undefined, 'tok-a', false],
    ['empty configuration', ' , ', '', false],
  ] as [string, string | undefined, string | null, boolean][])('%s', async (_n, configured, presented, expected) => {
    expect(await agentTokenValid(configured, presented)).toBe(expected);
  });
});

const NOW = Date.parse('2026-06-01T00:00:00Z');
const token: Parameters<typeof storedTokenVerdict>[0] & object = { id: 'atk_1', models: ['qwen-*'], expires_at: null, revoked_at: null };

describe('storedTokenVerdict', () => {
  const cases: [name: string, stored: typeof token | null, expected: unknown][] = [
    ['an active token: its id and patterns', token, { tokenId: 'atk_1', models: ['qwen-*'] }],
    ['expiring later', { ...token, expires_at: '2026-06-01T00:00:01.000Z' }, { tokenId: 'atk_1', models: ['qwen-*'] }],
    ['no such token', null, { status: 401, code: 'invalid_agent_token', message: 'Invalid agent token.' }],
    ['revoked', { ...token, revoked_at: '2026-05-01T00:00:00.000Z' }, { status: 401, code: 'invalid_agent_token', message: 'This agent token has been revoked.' }],
    ['expired', { ...token, expires_at: '2026-05-31T23:59:59.000Z' }, { status: 401, code: 'invalid_agent_token', message: 'This agent token has expired.' }],
    ['expiring right now', { ...token, expires_at: '2026-06-01T00:00:00.000Z' }, { status: 401, code: 'invalid_agent_token', message: 'This agent token has expired.' }],
    ['revoked and expired: revoked is said', { ...token, revoked_at: '2026-05-01T00:00:00.000Z', expires_at: '2026-05-02T00:00:00.000Z' }, { status: 401, code: 'invalid_agent_token', message: 'This agent token has been revoked.' }],
  ];
  it.each(cases)('%s', (_name, stored, expected) => expect(storedTokenVerdict(stored, NOW)).toEqual(expected));
});

describe('scopeRefusal', () => {
  const cases: [name: string, models: string[] | null, model: string, refused: boolean][] = [
    ['AGENT_TOKENS tokens are unscoped', null, 'gpt-4o', false],
    ['a matching pattern', ['qwen-*'], 'qwen-7b', false],
    ['an exact name among several', ['llama-3-8b', 'qwen-*'], 'llama-3-8b', false],
    ['outside the pattern', ['qwen-*'], 'gpt-4o', true],
    ['patterns are case-sensitive', ['qwen-*'], 'Qwen-7b', true],
    ['a prefix without the dash', ['qwen-*'], 'qwen2-vl-7b', true],
  ];
  it.each(cases)('%s', (_name, models, model, refused) => {
    const refusal = scopeRefusal({ tokenId: models ? 'atk_1' : null, models }, model);
    if (!refused) return expect(refusal).toBeNull();
    expect(refusal).toMatchObject({ status: 403, code: 'model_not_allowed' });
    // Names the model and every pattern, so the fix is obvious from the agent's log.
    expect(refusal!.message).toContain(`'${model}'`);
    expect(refusal!.message).toContain(`It allows: ${models!.join(', ')}.`);
  });
});

describe('identifyAgent without D1', () => {
  const env = { AGENT_TOKENS: 'boot-a,boot-b' };
  it.each([
    ['no token', null, 401],
    ['a bootstrap token: unscoped, no id', 'boot-b', { tokenId: null, models: null }],
    ['a wrong token', 'nope', 401],
    ['a stored-format token without a DB binding', `sb-agent-${'A'.repeat(43)}`, 401],
  ] as [string, string | null, unknown][])('%s', async (_name, presented, expected) => {
    const result = await identifyAgent(env, presented, NOW);
    if (typeof expected === 'number') expect(result).toMatchObject({ status: expected, code: 'invalid_agent_token' });
    else expect(result).toEqual(expected);
  });
});
