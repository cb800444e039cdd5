import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../env';
import { presentedKey, requireGatewayKey, timingSafeEqual } from './gateway-keys';

describe('presentedKey', () => {
  const cases: [name: string, headers: Record<string, string>, expected: string | null][] = [
    ['Bearer token', { authorization: 'Bearer sk-abc' }, 'sk-abc'],
    ['lower-case scheme', { authorization: 'bearer sk-abc' }, 'sk-abc'],
    ['extra spaces', { authorization: '  Bearer    sk-abc  ' }, 'sk-abc'],
    ['a tab after the scheme', { authorization: 'Bearer\tsk-abc' }, 'sk-abc'],
    ['Bearer with no token', { authorization: 'Bearer' }, null],
    ['Bearer and spaces only', { authorization: 'Bearer    ' }, null],
    ['Basic auth', { authorization: 'Basic dXNlcjpwYXNz' }, null],
    ['a bare token', { authorization: 'sk-abc' }, null],
    ['Azure-style api-key', { 'api-key': 'sk-abc' }, 'sk-abc'],
    ['api-key with spaces', { 'api-key': '  sk-abc ' }, 'sk-abc'],
    ['empty api-key', { 'api-key': '   ' }, null],
    ['authorization wins over api-key', { authorization: 'Bearer one', 'api-key': 'two' }, 'one'],
    ['a non-Bearer authorization does not fall back to api-key', { authorization: 'Basic x', 'api-key': 'two' }, null],
    ['nothing', {}, null],
  ];
  it.each(cases)('%s', (_name, headers, expected) => expect(presentedKey(new Headers(headers))).toBe(expected));
});

describe('timingSafeEqual', () => {
  const b = (...v: number[]) => new Uint8Array(v);
  const cases: [name: string, a: Uint8Array, c: Uint8Array, expected: boolean][] = [
    ['equal', b(1, 2, 3), b(1, 2, 3), true],
    ['both empty', b(), b(), true],
    ['first byte differs', b(9, 2, 3), b(1, 2, 3), false],
    ['last byte differs', b(1, 2, 3), b(1, 2, 4), false],
    ['a single bit differs', b(0b1000_0000), b(0), false],
    ['a prefix', b(1, 2), b(1, 2, 3), false],
    ['longer', b(1, 2, 3, 4), b(1, 2, 3), false],
  ];
  it.each(cases)('%s', (_name, a, c, expected) => expect(timingSafeEqual(a, c)).toBe(expected));
});

describe('requireGatewayKey', () => {
  const app = new Hono<AppEnv>();
  app.use('*', requireGatewayKey);
  app.get('/', (c) => c.text('in'));
  const call = (keys: string | undefined, headers: Record<string, string>) => app.request('/', { headers }, { GATEWAY_KEYS: keys });

  const cases: [name: string, keys: string | undefined, headers: Record<string, string>, status: number][] = [
    ['the only key', 'k1', { authorization: 'Bearer k1' }, 200],
    ['one of several, spaces around commas', ' k1 , k2,k3 ', { authorization: 'Bearer k2' }, 200],
    ['the last of several', 'k1,k2,k3', { 'api-key': 'k3' }, 200],
    ['a wrong key', 'k1,k2', { authorization: 'Bearer k4' }, 401],
    ['a prefix of a key', 'secret-key', { authorization: 'Bearer secret' }, 401],
    ['the key list itself', 'k1,k2', { authorization: 'Bearer k1,k2' }, 401],
    ['an empty entry does not admit an empty key', 'k1,,', { authorization: 'Bearer ,' }, 401],
    ['no keys configured', undefined, { authorization: 'Bearer anything' }, 401],
    ['no key presented', 'k1', {}, 401],
  ];
  it.each(cases)('%s → %i', async (_name, keys, headers, status) => {
    const res = await call(keys, headers);
    expect(res.status).toBe(status);
    if (status === 401) {
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key', param: null });
      expect(JSON.stringify(body)).not.toContain('k1');
    }
  });

  it('follows a change of the configured keys', async () => {
    expect((await call('old', { authorization: 'Bearer old' })).status).toBe(200);
    expect((await call('new', { authorization: 'Bearer old' })).status).toBe(401);
    expect((await call('new', { authorization: 'Bearer new' })).status).toBe(200);
  });
});
