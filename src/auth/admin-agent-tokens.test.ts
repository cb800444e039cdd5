import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { errorResponse, GatewayError } from '../openai/errors';
import { adminAgentTokens, parseCreateAgentTokenRequest } from './admin-agent-tokens';

const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('parseCreateAgentTokenRequest', () => {
  const ok: [name: string, body: unknown, expected: ReturnType<typeof parseCreateAgentTokenRequest>][] = [
    ['name and one pattern', { name: 'gpu-box-1', models: ['qwen-*'] }, { name: 'gpu-box-1', models: ['qwen-*'], expiresAt: null }],
    ['name is trimmed; patterns kept in order', { name: ' box ', models: ['qwen-7b', 'llama-*'] }, { name: 'box', models: ['qwen-7b', 'llama-*'], expiresAt: null }],
    ['"*" allows any name', { name: 'a', models: ['*'] }, { name: 'a', models: ['*'], expiresAt: null }],
    ['null expiry as if absent', { name: 'a', models: ['x'], expires_at: null }, { name: 'a', models: ['x'], expiresAt: null }],
    ['a date means its midnight UTC', { name: 'a', models: ['x'], expires_at: '2027-01-01' }, { name: 'a', models: ['x'], expiresAt: '2027-01-01T00:00:00.000Z' }],
    ['a date-time with an offset', { name: 'a', models: ['x'], expires_at: '2027-01-01T12:00:00+02:00' }, { name: 'a', models: ['x'], expiresAt: '2027-01-01T10:00:00.000Z' }],
    ['Unix seconds', { name: 'a', models: ['x'], expires_at: 1798761600 }, { name: 'a', models: ['x'], expiresAt: '2027-01-01T00:00:00.000Z' }],
    ['Unix seconds as a string (read as for gateway keys)', { name: 'a', models: ['x'], expires_at: '1798761600' }, { name: 'a', models: ['x'], expiresAt: '2027-01-01T00:00:00.000Z' }],
  ];
  it.each(ok)('%s', (_name, body, expected) => expect(parseCreateAgentTokenRequest(JSON.stringify(body), NOW)).toEqual(expected));

  const bad: [name: string, text: string, param: string | null][] = [
    ['not JSON', '{name:', null],
    ['an array', '[]', null],
    ['null', 'null', null],
    ['no name', '{"models":["x"]}', 'name'],
    ['blank name', '{"name":" ","models":["x"]}', 'name'],
    ['name too long', JSON.stringify({ name: 'x'.repeat(101), models: ['x'] }), 'name'],
    ['no models: an agent token is always scoped', '{"name":"a"}', 'models'],
    ['models null', '{"name":"a","models":null}', 'models'],
    ['models empty', '{"name":"a","models":[]}', 'models'],
    ['models a string', '{"name":"a","models":"qwen-*"}', 'models'],
    ['a bad pattern names its index', '{"name":"a","models":["qwen-*","bad model"]}', 'models[1]'],
    ['a pattern that is not a string', '{"name":"a","models":[7]}', 'models[0]'],
    ['expiry in the past', '{"name":"a","models":["x"],"expires_at":"2026-05-31"}', 'expires_at'],
    ['expiry not a date', '{"name":"a","models":["x"],"expires_at":"soon"}', 'expires_at'],
    ['an unknown field', '{"name":"a","models":["x"],"rpm":5}', 'rpm'],
  ];
  it.each(bad)('%s → 400 naming %s', (_name, text, param) => {
    let error: unknown;
    try {
      parseCreateAgentTokenRequest(text, NOW);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param });
  });

  it('an expiry in the past says to revoke the agent token instead', () => {
    expect(() => parseCreateAgentTokenRequest('{"name":"a","models":["x"],"expires_at":"2020-01-01"}', NOW)).toThrow(
      'expires_at is in the past; revoke the agent token to stop it now.',
    );
  });
});

describe('adminAgentTokens without a DB binding', () => {
  it('answers 503 naming the missing binding (the AGENT_TOKENS secret still works)', async () => {
    const app = new Hono<AppEnv>().route('/agent-tokens', adminAgentTokens);
    app.onError((error) => errorResponse(error as GatewayError));
    const res = await app.request('/agent-tokens', {}, {});
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('gateway_misconfigured');
    expect(body.error.message).toContain('"DB"');
  });
});
