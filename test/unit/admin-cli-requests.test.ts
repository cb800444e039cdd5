import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError } from '../../scripts/admin/args.mjs';
import { buildRequest, parseTime } from '../../scripts/admin/requests.mjs';

// The admin CLI's requests (scripts/admin/requests.mjs): command line → method, path, JSON body.

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const request = (...argv: string[]) => buildRequest(parseCommandLine(argv), NOW);

describe('parseTime', () => {
  const cases: [text: string, direction: number, expected: string][] = [
    ['30m', -1, '2026-11-26T11:30:00.000Z'],
    ['24h', -1, '2026-11-25T12:00:00.000Z'],
    ['7d', -1, '2026-11-19T12:00:00.000Z'],
    ['2w', -1, '2026-11-12T12:00:00.000Z'],
    ['30d', 1, '2026-12-26T12:00:00.000Z'],
    ['0d', -1, '2026-11-26T12:00:00.000Z'],
    ['2026-11-01', -1, '2026-11-01'],
    ['2026-11-01T08:00:00Z', -1, '2026-11-01T08:00:00Z'],
    ['2026-11-01T08:00:00+02:00', -1, '2026-11-01T08:00:00+02:00'],
    [' 7d ', -1, '2026-11-19T12:00:00.000Z'],
  ];
  it.each(cases)('%j (direction %i) → %s', (text, direction, expected) => expect(parseTime(text, NOW, direction, 'since')).toBe(expected));

  it.each(['7 days', 'yesterday', '7', 'd7', '1y', '2026-13-45', '2026/11/01', ''])('%j → UsageError naming the flag', (text) => {
    expect(() => parseTime(text, NOW, -1, 'since')).toThrow(UsageError);
    expect(() => parseTime(text, NOW, -1, 'since')).toThrow(/^--since /);
  });
});

describe('buildRequest', () => {
  const cases: [argv: string[], expected: unknown][] = [
    [
      ['keys', 'create', '--name', 'alice', '--models', 'gpt-4o, anthropic/*', '--rpm', '60', '--tpm', '200000', '--concurrency', '8', '--budget', '50', '--expires', '2027-01-01'],
      { method: 'POST', path: '/admin/keys', body: { name: 'alice', models: ['gpt-4o', 'anthropic/*'], rpm: 60, tpm: 200000, max_concurrent: 8, budget_usd: 50, expires_at: '2027-01-01' } },
    ],
    [['keys', 'create', '--name', 'bob'], { method: 'POST', path: '/admin/keys', body: { name: 'bob' } }],
    [['keys', 'create', '--name', 'c', '--budget', '12.5', '--expires', '90d'], { method: 'POST', path: '/admin/keys', body: { name: 'c', budget_usd: 12.5, expires_at: '2027-02-24T12:00:00.000Z' } }],
    // On create, "no restriction" words are the same as leaving the flag out.
    [['keys', 'create', '--name', 'd', '--models', 'all', '--rpm', 'none', '--expires', 'never'], { method: 'POST', path: '/admin/keys', body: { name: 'd' } }],
    [['keys', 'list'], { method: 'GET', path: '/admin/keys' }],
    [['keys', 'show', 'key_1'], { method: 'GET', path: '/admin/keys/key_1' }],
    [['keys', 'show', 'key/../x'], { method: 'GET', path: '/admin/keys/key%2F..%2Fx' }],
    [['keys', 'update', 'key_1', '--rpm', '100'], { method: 'PATCH', path: '/admin/keys/key_1', body: { rpm: 100 } }],
    // On update, they clear the field: null.
    [
      ['keys', 'update', 'key_1', '--rpm', 'none', '--tpm', 'NONE', '--concurrency', 'none', '--budget', 'none', '--models', 'all', '--expires', 'never', '--name', 'alice2'],
      { method: 'PATCH', path: '/admin/keys/key_1', body: { name: 'alice2', rpm: null, tpm: null, max_concurrent: null, budget_usd: null, models: null, expires_at: null } },
    ],
    [['keys', 'update', 'key_1', '--models', 'claude-*', '--expires', '2027-06-01T00:00:00Z'], { method: 'PATCH', path: '/admin/keys/key_1', body: { models: ['claude-*'], expires_at: '2027-06-01T00:00:00Z' } }],
    [['keys', 'revoke', 'key_1'], { method: 'POST', path: '/admin/keys/key_1/revoke' }],
    [['keys', 'rotate', 'key_1'], { method: 'POST', path: '/admin/keys/key_1/rotate' }],
    [['usage'], { method: 'GET', path: '/admin/usage?group_by=key' }],
    [['usage', '--by', 'model', '--since', '7d'], { method: 'GET', path: '/admin/usage?group_by=model&since=2026-11-19T12%3A00%3A00.000Z' }],
    [
      ['usage', '--by', 'day', '--since', '2026-11-01', '--until', '24h', '--key', 'key_1', '--model', 'gpt-4o'],
      { method: 'GET', path: '/admin/usage?group_by=day&since=2026-11-01&until=2026-11-25T12%3A00%3A00.000Z&key=key_1&model=gpt-4o' },
    ],
    [['agent-tokens', 'create', '--name', 'box1', '--models', 'qwen-*'], { method: 'POST', path: '/admin/agent-tokens', body: { name: 'box1', models: ['qwen-*'] } }],
    [['agent-tokens', 'create', '--name', 'box1', '--models', 'qwen-*,llama-*', '--expires', '30d'], { method: 'POST', path: '/admin/agent-tokens', body: { name: 'box1', models: ['qwen-*', 'llama-*'], expires_at: '2026-12-26T12:00:00.000Z' } }],
    [['agent-tokens', 'list'], { method: 'GET', path: '/admin/agent-tokens' }],
    [['agent-tokens', 'show', 'atk_1'], { method: 'GET', path: '/admin/agent-tokens/atk_1' }],
    [['agent-tokens', 'revoke', 'atk_1'], { method: 'POST', path: '/admin/agent-tokens/atk_1/revoke' }],
  ];
  it.each(cases)('%j', (argv, expected) => expect(request(...argv)).toEqual(expected));

  const bad: [argv: string[], message: RegExp][] = [
    [['keys', 'update', 'key_1'], /^keys update needs at least one of --name/],
    [['keys', 'create', '--name', 'a', '--rpm', '60x'], /^--rpm must be a whole number or "none", not "60x"$/],
    [['keys', 'create', '--name', 'a', '--rpm', '1.5'], /^--rpm must be a whole number, not "1.5"$/],
    [['keys', 'create', '--name', 'a', '--budget', 'lots'], /^--budget must be a number or "none"/],
    [['keys', 'create', '--name', 'a', '--models', ' , '], /^--models needs at least one name or pattern$/],
    [['keys', 'create', '--name', 'a', '--expires', 'soon'], /^--expires "soon" is neither a duration/],
    [['usage', '--by', 'week'], /^--by must be key, model or day, not "week"$/],
    [['usage', '--since', 'last week'], /^--since "last week"/],
    [['agent-tokens', 'create', '--name', 'a', '--models', 'all', '--expires', 'never'], /^--expires "never"/],
  ];
  it.each(bad)('%j → UsageError', (argv, message) => {
    expect(() => request(...argv)).toThrow(UsageError);
    expect(() => request(...argv)).toThrow(message);
  });

  it('limits out of range go to the API, which names the field (one source of truth)', () => {
    expect(request('keys', 'create', '--name', 'a', '--rpm', '-5')).toMatchObject({ body: { rpm: -5 } });
  });
});
