import { Hono, type MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { GatewayError, errorResponse } from '../openai/errors';
import { adminAgentTokens } from './admin-agent-tokens';
import { parseUsageQuery } from '../usage/usage-query';
import { usageGroups } from '../usage/usage-store';
import { parseCreateKeyRequest, parseUpdateKeyRequest } from './admin-requests';
import { presentedKey, timingSafeEqual } from './gateway-keys';
import { sha256 } from './key-format';
import { createKey, getKey, listKeys, query, revokeKey, rotateKey, updateKey } from './key-store';

// The admin API under /admin, authorized by the ADMIN_TOKEN secret only: a gateway key is
// never an admin credential. Without ADMIN_TOKEN the admin API does not exist (404), so an
// unconfigured gateway offers nothing to guess at.

const adminDisabled = () =>
  new GatewayError(404, 'The admin API is not enabled on this gateway (no ADMIN_TOKEN secret is set).', 'invalid_request_error', null, 'admin_api_disabled');

export const requireAdminToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expected = c.env.ADMIN_TOKEN?.trim();
  if (!expected) return errorResponse(adminDisabled());
  const token = presentedKey(c.req.raw.headers);
  // Digests of equal length, compared in constant time: neither the token nor its length leaks.
  const ok = token !== null && timingSafeEqual(await sha256(token), await sha256(expected));
  if (!ok) {
    return errorResponse(
      new GatewayError(401, 'Missing or invalid admin token. Send the ADMIN_TOKEN as "Authorization: Bearer <token>".', 'authentication_error', null, 'invalid_admin_token'),
      { 'www-authenticate': 'Bearer' },
    );
  }
  await next();
};

function database(env: AppEnv['Bindings']): D1Database {
  if (env.DB) return env.DB;
  throw new GatewayError(
    503,
    'Gateway configuration error: keys are stored in D1, and no D1 database is bound as "DB" (wrangler.toml [[d1_databases]]).',
    'server_error',
    null,
    'gateway_misconfigured',
  );
}

const keyNotFound = (id: string) => new GatewayError(404, `No gateway key with id '${id}'.`, 'invalid_request_error', 'id', 'key_not_found');

export const admin = new Hono<AppEnv>();
admin.use('*', requireAdminToken);
admin.route('/agent-tokens', adminAgentTokens);

admin.post('/keys', async (c) => {
  const request = parseCreateKeyRequest(await c.req.text(), Date.now());
  const created = await createKey(database(c.env), request, new Date());
  return c.json({ object: 'gateway_key', ...created }, 201, { 'cache-control': 'no-store' });
});

admin.get('/keys', async (c) => c.json({ object: 'list', data: (await listKeys(database(c.env))).map((k) => ({ object: 'gateway_key', ...k })) }));

admin.get('/keys/:id', async (c) => {
  const key = await getKey(database(c.env), c.req.param('id'));
  if (!key) throw keyNotFound(c.req.param('id'));
  return c.json({ object: 'gateway_key', ...key });
});

admin.post('/keys/:id/revoke', async (c) => {
  const key = await revokeKey(database(c.env), c.req.param('id'), new Date());
  if (!key) throw keyNotFound(c.req.param('id'));
  return c.json({ object: 'gateway_key', ...key });
});

admin.patch('/keys/:id', async (c) => {
  const update = parseUpdateKeyRequest(await c.req.text(), Date.now());
  const key = await updateKey(database(c.env), c.req.param('id'), update);
  if (!key) throw keyNotFound(c.req.param('id'));
  return c.json({ object: 'gateway_key', ...key });
});

admin.post('/keys/:id/rotate', async (c) => {
  const key = await rotateKey(database(c.env), c.req.param('id'));
  if (!key) throw keyNotFound(c.req.param('id'));
  return c.json({ object: 'gateway_key', ...key }, 200, { 'cache-control': 'no-store' });
});

admin.get('/usage', async (c) => {
  const { filter, groupBy } = parseUsageQuery(new URL(c.req.url).searchParams, Date.now());
  const data = await query(() => usageGroups(database(c.env), filter, groupBy));
  return c.json({ object: 'list', group_by: groupBy, since: filter.since, until: filter.until ?? null, data });
});
