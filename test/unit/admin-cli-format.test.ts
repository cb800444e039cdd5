import { describe, expect, it } from 'vitest';
import { agentTokensTable, details, keysTable, renderResult, secretField, status, table, usageTable } from '../../scripts/admin/format.mjs';

// What the admin CLI prints (scripts/admin/format.mjs), from the admin API's JSON.

const NOW = Date.parse('2026-11-26T12:00:00Z');
const alice = {
  object: 'gateway_key', id: 'key_aaaa', name: 'alice', models: ['gpt-4o', 'anthropic/*'], rpm: 60, tpm: 200000, max_concurrent: 8, budget_usd: 50,
  created_at: '2026-11-01T00:00:00.000Z', expires_at: '2027-01-01T00:00:00.000Z', revoked_at: null,
};
const bob = { ...alice, id: 'key_bbbb', name: 'bob', models: null, rpm: null, tpm: null, max_concurrent: null, budget_usd: null, expires_at: null, revoked_at: '2026-11-20T00:00:00.000Z' };
const carol = { ...alice, id: 'key_cccc', name: 'carol', budget_usd: 7.5, expires_at: '2026-11-26T11:59:59.000Z' };

describe('table', () => {
  const cases: [name: string, headers: string[], rows: unknown[][], align: string, expected: string][] = [
    ['pads to the widest cell, two spaces apart', ['A', 'BB'], [['xxx', 'y'], ['z', 'wwww']], '', 'A    BB\nxxx  y\nz    wwww'],
    ['right-aligns where asked', ['N', 'NAME'], [[5, 'a'], [120, 'b']], 'rl', '  N  NAME\n  5  a\n120  b'],
    ['no trailing spaces on a short last cell', ['NAME', 'X'], [['long-name', '']], '', 'NAME       X\nlong-name'],
    ['null and undefined are empty', ['A', 'B'], [[null, undefined]], '', 'A  B\n'],
    ['headers only', ['ID', 'NAME'], [], '', 'ID  NAME'],
  ];
  it.each(cases)('%s', (_name, headers, rows, align, expected) => expect(table(headers, rows, align)).toBe(expected));
});

describe('status', () => {
  it.each([
    [alice, 'active'],
    [bob, 'revoked'],
    [carol, 'expired'],
    [{ ...carol, revoked_at: '2026-11-01T00:00:00Z' }, 'revoked'],
  ] as [typeof alice, string][])('%#: %s', (item, expected) => expect(status(item, NOW)).toBe(expected));
});

describe('keysTable', () => {
  it('one aligned row per key; limits, budget, expiry and status readable', () => {
    expect(keysTable([alice, bob, carol], NOW)).toBe(
      [
        'ID        NAME   MODELS              RPM     TPM  CONCURRENT  BUDGET/MO  EXPIRES     STATUS',
        'key_aaaa  alice  gpt-4o,anthropic/*   60  200000           8     $50.00  2027-01-01  active',
        'key_bbbb  bob    all                   -       -           -          -  never       revoked',
        'key_cccc  carol  gpt-4o,anthropic/*   60  200000           8      $7.50  2026-11-26  expired',
      ].join('\n'),
    );
  });
  it('keys from before limits existed (no limit fields) show "-"', () => {
    const { rpm: _r, tpm: _t, max_concurrent: _m, budget_usd: _b, ...old } = alice;
    expect(keysTable([old], NOW).split('\n')[1]).toBe('key_aaaa  alice  gpt-4o,anthropic/*    -    -           -          -  2027-01-01  active');
  });
  it('no keys: says how to create one', () => expect(keysTable([], NOW)).toBe('No gateway keys yet: npm run admin -- keys create --name NAME'));
});

describe('agentTokensTable', () => {
  const token = { object: 'agent_token', id: 'atk_1111', name: 'gpu-box-1', models: ['qwen-*', 'llama-3-8b'], created_at: '2026-11-02T10:00:00.000Z', expires_at: null, revoked_at: null };
  it('one row per token', () => {
    expect(agentTokensTable([token, { ...token, id: 'atk_2222', name: 'old-box', models: ['*'], revoked_at: '2026-11-03T00:00:00.000Z' }], NOW)).toBe(
      [
        'ID        NAME       MODELS             CREATED     EXPIRES  STATUS',
        'atk_1111  gpu-box-1  qwen-*,llama-3-8b  2026-11-02  never    active',
        'atk_2222  old-box    *                  2026-11-02  never    revoked',
      ].join('\n'),
    );
  });
  it('none yet', () => expect(agentTokensTable([], NOW)).toMatch(/^No agent tokens yet: npm run admin -- agent-tokens create/));
});

describe('usageTable', () => {
  const row = { group: 'key_aaaa', key_name: 'alice', requests: 12, errors: 1, prompt_tokens: 12345, completion_tokens: 678, cached_tokens: 0, cost_usd: 0.0123, avg_latency_ms: 845 };
  it('by key: names, thousands separators, cost to 1/100 cent, a total row weighted by requests', () => {
    const report = { object: 'list', group_by: 'key', since: '2026-11-19T12:00:00.000Z', until: null, data: [row, { ...row, group: null, key_name: '(GATEWAY_KEYS)', requests: 3, errors: 0, prompt_tokens: 10, completion_tokens: 5, cached_tokens: 2, cost_usd: 0, avg_latency_ms: 100 }] };
    expect(usageTable(report)).toBe(
      [
        'Usage by key, 2026-11-19T12:00:00.000Z to now',
        '',
        'KEY       NAME            REQUESTS  ERRORS  PROMPT  COMPLETION  CACHED     COST  AVG MS',
        'key_aaaa  alice                 12       1  12,345         678       0  $0.0123     845',
        '-         (GATEWAY_KEYS)         3       0      10           5       2  $0.0000     100',
        'TOTAL                           15       1  12,355         683       2  $0.0123     696',
      ].join('\n'),
    );
  });
  it('by model: no name column; one group, no total', () => {
    const report = { object: 'list', group_by: 'model', since: '2026-11-01T00:00:00.000Z', until: '2026-11-02T00:00:00.000Z', data: [{ ...row, group: 'gpt-4o', key_name: undefined }] };
    expect(usageTable(report)).toBe(
      [
        'Usage by model, 2026-11-01T00:00:00.000Z to 2026-11-02T00:00:00.000Z',
        '',
        'MODEL   REQUESTS  ERRORS  PROMPT  COMPLETION  CACHED     COST  AVG MS',
        'gpt-4o        12       1  12,345         678       0  $0.0123     845',
      ].join('\n'),
    );
  });
  it('by day, without latency', () => {
    const report = { group_by: 'day', since: '2026-11-01', until: null, data: [{ ...row, group: '2026-11-25', avg_latency_ms: null }] };
    expect(usageTable(report).split('\n')[2]).toBe('DAY         REQUESTS  ERRORS  PROMPT  COMPLETION  CACHED     COST  AVG MS');
    expect(usageTable(report).split('\n')[3]).toBe('2026-11-25        12       1  12,345         678       0  $0.0123       -');
  });
  it('nothing in the range', () => expect(usageTable({ group_by: 'key', since: '2026-11-01T00:00:00.000Z', until: null, data: [] })).toBe('No usage from 2026-11-01T00:00:00.000Z to now.'));
});

describe('details and renderResult', () => {
  it('a key, field by field', () => {
    expect(details(alice, NOW)).toBe(
      [
        'id:            key_aaaa',
        'name:          alice',
        'models:        gpt-4o,anthropic/*',
        'rpm:           60',
        'tpm:           200000',
        'concurrent:    8',
        'budget/month:  $50.00',
        'created:       2026-11-01T00:00:00.000Z',
        'expires:       2027-01-01T00:00:00.000Z',
        'status:        active',
      ].join('\n'),
    );
  });
  it('a revoked agent token: no limit rows, the revocation time', () => {
    const token = { object: 'agent_token', id: 'atk_1', name: 'box', models: ['qwen-*'], created_at: '2026-11-02T00:00:00.000Z', expires_at: null, revoked_at: '2026-11-03T00:00:00.000Z' };
    expect(details(token, NOW)).toBe(
      ['id:       atk_1', 'name:     box', 'models:   qwen-*', 'created:  2026-11-02T00:00:00.000Z', 'expires:  never', 'status:   revoked (2026-11-03T00:00:00.000Z)'].join('\n'),
    );
  });

  it('a created key: printed once, set apart, with the warning; the base URL for clients', () => {
    const out = renderResult('keys create', { ...alice, key: 'sk-sb-SECRET' }, { now: NOW, url: 'http://127.0.0.1:8787' });
    expect(out.split('sk-sb-SECRET')).toHaveLength(2);
    expect(out).toContain('\n\n  sk-sb-SECRET\n\nThis key is shown only this once: store it now.');
    expect(out).toContain('base URL http://127.0.0.1:8787/v1');
    expect(out.startsWith('Created gateway key key_aaaa (alice).')).toBe(true);
  });
  it('a rotated key says the old one is dead', () => {
    const out = renderResult('keys rotate', { ...alice, key: 'sk-sb-NEW' }, { now: NOW, url: 'u' });
    expect(out).toMatch(/^Rotated gateway key key_aaaa \(alice\): the old key no longer works\.\n\n {2}sk-sb-NEW\n/);
  });
  it('an agent token revoked: how many sockets were closed', () => {
    const token = { id: 'atk_1', name: 'box', models: ['qwen-*'], created_at: 'c', expires_at: null, revoked_at: 'r' };
    expect(renderResult('agent-tokens revoke', token, { now: NOW, url: 'u', disconnected: 2 }).split('\n')[0]).toBe('Revoked agent token atk_1; 2 connected agent socket(s) closed.');
  });
  it.each([
    ['keys create', 'key'],
    ['keys rotate', 'key'],
    ['agent-tokens create', 'token'],
    ['keys list', null],
    ['usage', null],
  ])('secretField(%s) = %s', (command, field) => expect(secretField(command)).toBe(field));
});
