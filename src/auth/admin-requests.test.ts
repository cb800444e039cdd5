import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import { NO_LIMITS, parseCreateKeyRequest, parseUpdateKeyRequest } from './admin-requests';

const NOW = Date.parse('2026-06-01T00:00:00Z');

function refusal(parse: () => unknown): unknown {
  try {
    parse();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('parseCreateKeyRequest', () => {
  const plain = { models: null, expiresAt: null, limits: NO_LIMITS };
  const ok: [name: string, body: unknown, expected: ReturnType<typeof parseCreateKeyRequest>][] = [
    ['name only: every model, never expires, no limits', { name: 'alice' }, { name: 'alice', ...plain }],
    ['name is trimmed', { name: '  alice ' }, { name: 'alice', ...plain }],
    ['patterns kept in order', { name: 'a', models: ['gpt-4o', 'anthropic/*'] }, { name: 'a', ...plain, models: ['gpt-4o', 'anthropic/*'] }],
    ['null models and expiry as if absent', { name: 'a', models: null, expires_at: null }, { name: 'a', ...plain }],
    ['a date means its midnight UTC', { name: 'a', expires_at: '2027-01-01' }, { name: 'a', ...plain, expiresAt: '2027-01-01T00:00:00.000Z' }],
    ['a date-time with an offset', { name: 'a', expires_at: '2027-01-01T12:00:00+02:00' }, { name: 'a', ...plain, expiresAt: '2027-01-01T10:00:00.000Z' }],
    ['Unix seconds', { name: 'a', expires_at: 1798761600 }, { name: 'a', ...plain, expiresAt: '2027-01-01T00:00:00.000Z' }],
    [
      'every limit',
      { name: 'a', rpm: 60, tpm: 200000, max_concurrent: 8, budget_usd: 50 },
      { name: 'a', ...plain, limits: { rpm: 60, tpm: 200000, max_concurrent: 8, budget_usd: 50 } },
    ],
    ['a budget in cents', { name: 'a', budget_usd: 0.25 }, { name: 'a', ...plain, limits: { ...NO_LIMITS, budget_usd: 0.25 } }],
    ['a zero budget (nothing may be spent)', { name: 'a', budget_usd: 0 }, { name: 'a', ...plain, limits: { ...NO_LIMITS, budget_usd: 0 } }],
    ['null limits as if absent', { name: 'a', rpm: null, budget_usd: null }, { name: 'a', ...plain }],
  ];
  it.each(ok)('%s', (_name, body, expected) => expect(parseCreateKeyRequest(JSON.stringify(body), NOW)).toEqual(expected));

  const bad: [name: string, text: string, param: string | null][] = [
    ['not JSON', '{name:', null],
    ['an array', '[]', null],
    ['no name', '{}', 'name'],
    ['blank name', '{"name":"  "}', 'name'],
    ['name not a string', '{"name":5}', 'name'],
    ['name too long', JSON.stringify({ name: 'x'.repeat(101) }), 'name'],
    ['models not an array', '{"name":"a","models":"gpt-4o"}', 'models'],
    ['models empty', '{"name":"a","models":[]}', 'models'],
    ['a bad pattern names its index', '{"name":"a","models":["gpt-4o","bad model"]}', 'models[1]'],
    ['expiry in the past', '{"name":"a","expires_at":"2026-05-31"}', 'expires_at'],
    ['expiry now', JSON.stringify({ name: 'a', expires_at: NOW / 1000 }), 'expires_at'],
    ['expiry not a date', '{"name":"a","expires_at":"next year"}', 'expires_at'],
    ['expiry as a boolean', '{"name":"a","expires_at":true}', 'expires_at'],
    ['an unknown field', '{"name":"a","rps":60}', 'rps'],
    ['rpm zero', '{"name":"a","rpm":0}', 'rpm'],
    ['rpm negative', '{"name":"a","rpm":-5}', 'rpm'],
    ['rpm fractional', '{"name":"a","rpm":1.5}', 'rpm'],
    ['rpm as a string', '{"name":"a","rpm":"60"}', 'rpm'],
    ['tpm too large', '{"name":"a","tpm":1e12}', 'tpm'],
    ['max_concurrent as a boolean', '{"name":"a","max_concurrent":true}', 'max_concurrent'],
    ['budget negative', '{"name":"a","budget_usd":-1}', 'budget_usd'],
    ['budget as a string', '{"name":"a","budget_usd":"50"}', 'budget_usd'],
  ];
  it.each(bad)('%s → 400 naming %s', (_name, text, param) => {
    const error = refusal(() => parseCreateKeyRequest(text, NOW));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param });
  });
});

describe('parseUpdateKeyRequest', () => {
  const ok: [name: string, body: unknown, expected: ReturnType<typeof parseUpdateKeyRequest>][] = [
    ['one limit', { rpm: 100 }, { limits: { rpm: 100 } }],
    ['null clears a limit', { tpm: null, budget_usd: null }, { limits: { tpm: null, budget_usd: null } }],
    ['a new name, trimmed', { name: ' bob ' }, { name: 'bob', limits: {} }],
    ['null models: every model', { models: null }, { models: null, limits: {} }],
    ['new patterns', { models: ['qwen-*'] }, { models: ['qwen-*'], limits: {} }],
    ['a new expiry', { expires_at: '2027-01-01' }, { expiresAt: '2027-01-01T00:00:00.000Z', limits: {} }],
    ['null expiry: never', { expires_at: null }, { expiresAt: null, limits: {} }],
    [
      'everything at once',
      { name: 'c', models: ['*'], expires_at: null, rpm: 1, tpm: 2, max_concurrent: 3, budget_usd: 4.5 },
      { name: 'c', models: ['*'], expiresAt: null, limits: { rpm: 1, tpm: 2, max_concurrent: 3, budget_usd: 4.5 } },
    ],
  ];
  it.each(ok)('%s', (_name, body, expected) => expect(parseUpdateKeyRequest(JSON.stringify(body), NOW)).toEqual(expected));

  const bad: [name: string, text: string, param: string | null][] = [
    ['not JSON', 'nope', null],
    ['nothing to update', '{}', null],
    ['null name (a key always has one)', '{"name":null}', 'name'],
    ['an expiry in the past (use revoke)', '{"expires_at":"2020-01-01"}', 'expires_at'],
    ['empty models', '{"models":[]}', 'models'],
    ['a bad limit', '{"max_concurrent":0}', 'max_concurrent'],
    ['an unknown field', '{"revoked_at":null}', 'revoked_at'],
    ['the key itself cannot be set', '{"key":"sk-sb-x"}', 'key'],
  ];
  it.each(bad)('%s → 400 naming %s', (_name, text, param) => {
    const error = refusal(() => parseUpdateKeyRequest(text, NOW));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param });
  });
});
