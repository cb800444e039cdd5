import { presentedKey } from '../auth/gateway-keys';
import type { Env } from '../env';
import { agentTokenRevoked, identifyAgent, scopeRefusal, type AgentIdentity } from './agent-tokens';
import { AGENT_TOKEN_HEADER, MODEL_HEADER, REGISTRY, type TunnelEnv } from './tunnel-names';

// GET /v1/agent/connect?model=NAME (WebSocket): an agent registering a model pool.
// The token is checked here, before the socket reaches the model's Durable Object:
// unknown, revoked or expired → 401; a stored token whose patterns do not allow the
// model → 403 naming its patterns. The Durable Object learns which stored token the
// agent used, so revoking that token closes the socket (agent-tokens.ts).

const ERROR_TYPES: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error' };

/** An OpenAI-style error for an agent's connection attempt (401s ask for a Bearer token). */
export function agentConnectError(status: number, message: string, code: string): Response {
  return new Response(JSON.stringify({ error: { message, type: ERROR_TYPES[status] ?? 'invalid_request_error', param: null, code } }), {
    status,
    headers: { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) },
  });
}

export async function handleAgentConnect(request: Request, env: TunnelEnv & Pick<Env, 'DB'>): Promise<Response> {
  if (!env.ONPREM_MODELS) return agentConnectError(503, 'This gateway has no on-prem model binding (ONPREM_MODELS).', 'onprem_not_configured');
  const identity = await identifyAgent(env, presentedKey(request.headers), Date.now());
  if ('status' in identity) return agentConnectError(identity.status, identity.message, identity.code);
  const model = new URL(request.url).searchParams.get('model')?.trim();
  if (!model || model === REGISTRY || model.length > 200) return agentConnectError(400, 'Name the model this connection serves: /v1/agent/connect?model=NAME', 'invalid_model');
  const refused = scopeRefusal(identity, model);
  if (refused) return agentConnectError(refused.status, refused.message, refused.code);
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return agentConnectError(426, 'Expected a WebSocket upgrade.', 'upgrade_required');
  const stub = env.ONPREM_MODELS.get(env.ONPREM_MODELS.idFromName(model));
  return handOverAgentSocket(request, identity, env.DB, stub, { origin: 'https://onprem', header: MODEL_HEADER, name: model });
}

/**
 * Passes an agent's checked WebSocket upgrade to the Durable Object it dialled (a model's
 * or a credential's), telling it which stored token the agent used, so that revoking that
 * token closes the socket. `header`/`name` tell the object what it serves.
 */
export async function handOverAgentSocket(
  request: Request,
  identity: AgentIdentity,
  db: D1Database | undefined,
  stub: DurableObjectStub,
  target: { origin: string; header: string; name: string },
): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.set(target.header, target.name);
  headers.delete('authorization'); // checked already; the Durable Object has no use for the token
  // Set by the gateway only: whatever a client sent under this name is replaced or removed.
  if (identity.tokenId) headers.set(AGENT_TOKEN_HEADER, identity.tokenId);
  else headers.delete(AGENT_TOKEN_HEADER);
  const response = await stub.fetch(new Request(`${target.origin}/connect`, { headers }));
  // A revocation that landed after the check but before the socket reached the Durable
  // Object found no socket to close there: look once more, now that it is there.
  if (response.status === 101 && identity.tokenId && db && (await agentTokenRevoked(db, identity.tokenId))) {
    await stub.fetch(`${target.origin}/revoke-token?token_id=${encodeURIComponent(identity.tokenId)}`, { method: 'POST', headers: { [target.header]: target.name } });
  }
  return response;
}

export interface OnPremModelInfo {
  model: string;
  online: boolean;
  agents: number;
  capacity: number;
  engine: string | null;
}

/** On-prem models with at least one agent online, for GET /v1/models. */
export async function onPremModels(env: TunnelEnv): Promise<OnPremModelInfo[]> {
  if (!env.ONPREM_MODELS) return [];
  const registry = env.ONPREM_MODELS.get(env.ONPREM_MODELS.idFromName(REGISTRY));
  const entries = (await (await registry.fetch('https://onprem/registry/list')).json()) as OnPremModelInfo[];
  return entries.filter((e) => e.online);
}
