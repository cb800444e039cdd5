import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import { parseCreateKeyRequest } from './admin-requests';

const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('parseCreateKeyRequest', () => {
  const ok: [name: string, body: unknown, expected: ReturnType<typeof parseCreateKeyRequest>][] = [
    ['name only: every model, never expires', { name: 'alice' }, { name: 'alice', models: null, expiresAt: null }],
    ['name is trimmed', { name: '  alice ' }, { name: 'alice', models: null, expiresAt: null }],
    ['patterns kept in order', { name: 'a', models: ['gpt-4o', 'anthropic/*'] }, { name: 'a', models: ['gpt-4o', 'anthropic/*'], expiresAt: null }],
    ['null models and expiry as if absent', { name: 'a', models: null, expires_at: null }, { name: 'a', models: null, expiresAt: null }],
    ['a date means its midnight UTC', { name: 'a', expires_at: '2027-01-01' }, { name: 'a', models: null, expiresAt: '2027-01-01T00:00:00.000Z' }],
    ['a date-time with an offset', { name: 'a', expires_at: '2027-01-01T12:00:00+02:00' }, { name: 'a', models: null, expiresAt: '2027-01-01T10:00:00.000Z' }],
    ['Unix seconds', { name: 'a', expires_at: 1798761600 }, { name: 'a', models: null, expiresAt: '2027-01-01T00:00:00.000Z' }],
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
    ['an unknown field (e.g. a limit not supported yet)', '{"name":"a","rpm":60}', 'rpm'],
  ];
  it.each(bad)('%s → 400 naming %s', (_name, text, param) => {
    let error: unknown;
    try {
      parseCreateKeyRequest(text, NOW);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param });
  });
});
