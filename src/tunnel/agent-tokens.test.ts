import { describe, expect, it } from 'vitest';
import { agentTokenValid } from './agent-tokens';

describe('agentTokenValid', () => {
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
