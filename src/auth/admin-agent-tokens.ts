import { Hono } from 'hono';
import { disconnectCredentialBrokers } from '../credentials/agent-credential-client';
import type { AppEnv } from '../env';
import { GatewayError } from '../openai/errors';
import {
  agentTokenDatabase,
  createAgentToken,
  disconnectAgents,
  getAgentToken,
  listAgentTokens,
  revokeAgentToken,
  type CreateAgentTokenRequest,
} from '../tunnel/agent-tokens';
import { parseExpiry, parseName, parseObject, parsePatterns } from './admin-requests';

// /admin/agent-tokens: tokens that local-agents dial the tunnel with, each scoped to the
// model names it may register. Mounted in admin.ts, behind its ADMIN_TOKEN check.

const FIELDS = ['name', 'models', 'expires_at'];

/**
 * Validates the body of POST /admin/agent-tokens: `{"name", "models", "expires_at"?}`.
 * `models` is required (an agent token always has a scope; `["*"]` allows every name).
 * `expires_at` as for gateway keys (admin-requests.ts parseExpiry): a future ISO 8601 date
 * or date-time, or Unix seconds.
 */
export function parseCreateAgentTokenRequest(text: string, now: number): CreateAgentTokenRequest {
  const { name, models, expires_at: expires } = parseObject(text, FIELDS, 'an agent token');
  const patterns = parsePatterns(
    models,
    'models is required: a non-empty array of the model names or patterns its agents may register (e.g. ["qwen-*"]; ["*"] for any).',
  );
  const expiresAt = expires === undefined ? null : parseExpiry(expires, now, 'agent token');
  return { name: parseName(name), models: patterns, expiresAt };
}

const tokenNotFound = (id: string) => new GatewayError(404, `No agent token with id '${id}'.`, 'invalid_request_error', 'id', 'agent_token_not_found');

export const adminAgentTokens = new Hono<AppEnv>();

adminAgentTokens.post('/', async (c) => {
  const request = parseCreateAgentTokenRequest(await c.req.text(), Date.now());
  const created = await createAgentToken(agentTokenDatabase(c.env), request, new Date());
  return c.json({ object: 'agent_token', ...created }, 201, { 'cache-control': 'no-store' });
});

adminAgentTokens.get('/', async (c) =>
  c.json({ object: 'list', data: (await listAgentTokens(agentTokenDatabase(c.env))).map((t) => ({ object: 'agent_token', ...t })) }),
);

adminAgentTokens.get('/:id', async (c) => {
  const token = await getAgentToken(agentTokenDatabase(c.env), c.req.param('id'));
  if (!token) throw tokenNotFound(c.req.param('id'));
  return c.json({ object: 'agent_token', ...token });
});

// Revoked in D1 first (no new connection is admitted from then on), then every agent
// connected with it is disconnected: from on-prem models and from the Azure credentials it
// brokers. Revoking again repeats the disconnect, so a failed one can simply be retried.
adminAgentTokens.post('/:id/revoke', async (c) => {
  const token = await revokeAgentToken(agentTokenDatabase(c.env), c.req.param('id'), new Date());
  if (!token) throw tokenNotFound(c.req.param('id'));
  let closed: number;
  try {
    const counts = await Promise.all([disconnectAgents(c.env, token.id), disconnectCredentialBrokers(c.env, token.id)]);
    closed = counts[0] + counts[1];
  } catch (error) {
    console.error(`revoking agent token ${token.id}: disconnecting its agents failed:`, error instanceof Error ? error.message : String(error));
    throw new GatewayError(
      503,
      `Agent token '${token.id}' is revoked (no new connection is accepted), but disconnecting its connected agents failed; revoke it again to retry.`,
      'server_error',
      null,
      'agent_disconnect_failed',
    );
  }
  return c.json({ object: 'agent_token', ...token }, 200, { 'x-switchboard-agents-disconnected': String(closed) });
});
