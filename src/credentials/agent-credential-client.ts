import type { Env } from '../env';
import { GatewayError } from '../openai/errors';
import { CREDENTIAL_HEADER, CREDENTIAL_REGISTRY } from './agent-credential';
import { REFRESH_MARGIN_MS, type AccessToken } from './token-cache';

/**
 * A token for the agent-brokered credential `name`, from its Durable Object (which asks
 * the agent when its own copy nears expiry). The Azure provider caches the result per
 * isolate (token-cache.ts) for `recheckMs` at most (default a minute), so an isolate asks
 * again that often, not per request, and a revoked agent's token stops being used within
 * that time (the object checks its agents' tokens on every ask).
 */
export async function agentCredentialToken(env: Env, name: string, recheckMs: number): Promise<AccessToken> {
  const namespace = env.AGENT_CREDENTIALS;
  if (!namespace) {
    throw new GatewayError(503, `The Azure credential '${name}' is brokered by a switchboard-agent, but this gateway has no AGENT_CREDENTIALS binding.`, 'server_error', null, 'provider_not_configured');
  }
  const stub = namespace.get(namespace.idFromName(name));
  const response = await stub.fetch('https://credential/token', { method: 'POST', headers: { [CREDENTIAL_HEADER]: name } });
  const body = (await response.json()) as { access_token?: string; expires_on?: number; error?: { message: string; type: string; code: string } };
  if (!response.ok || !body.access_token || typeof body.expires_on !== 'number') {
    const error = body.error ?? { message: `The Azure credential '${name}' answered ${response.status}.`, type: 'upstream_error', code: 'upstream_auth_failed' };
    throw new GatewayError(response.ok ? 502 : response.status, error.message, error.type as never, null, error.code);
  }
  // Cached as if it expired recheckMs after the refresh margin from now: then asked for again.
  return { token: body.access_token, expiresAt: Math.min(body.expires_on * 1000, Date.now() + REFRESH_MARGIN_MS + recheckMs) };
}

/**
 * Closes, at once, the broker sockets of every agent connected with this stored agent
 * token, on every credential: each AgentCredential object remembers its agents' token ids.
 * The names come from the CREDENTIAL_REGISTRY instance, where each object lists itself
 * before it accepts an agent, rather than from the `auth = "agent:NAME"` deployments of
 * MODELS: an agent may dial any credential name, and MODELS changes with each deploy while
 * agents stay connected under the names of the last one. Returns how many were closed.
 */
export async function disconnectCredentialBrokers(env: Pick<Env, 'AGENT_CREDENTIALS'>, tokenId: string): Promise<number> {
  const namespace = env.AGENT_CREDENTIALS;
  if (!namespace) return 0;
  const registry = namespace.get(namespace.idFromName(CREDENTIAL_REGISTRY));
  const names = (await (await registry.fetch('https://credential/registry/list')).json()) as string[];
  const closed = await Promise.all(
    names.map(async (name) => {
      const res = await namespace
        .get(namespace.idFromName(name))
        .fetch(`https://credential/revoke-token?token_id=${encodeURIComponent(tokenId)}`, { method: 'POST', headers: { [CREDENTIAL_HEADER]: name } });
      if (!res.ok) throw new Error(`the Durable Object of credential ${name} answered ${res.status}`);
      return ((await res.json()) as { closed: number }).closed;
    }),
  );
  return closed.reduce((a, b) => a + b, 0);
}
