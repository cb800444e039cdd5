import { presentedKey } from '../auth/gateway-keys';
import type { Env } from '../env';
import { agentTokenRevoked, identifyAgent, scopeRefusal } from './agent-tokens';
import { AGENT_TOKEN_HEADER, MODEL_HEADER, REGISTRY, type TunnelEnv } from './model-object';

// GET /v1/agent/connect?model=NAME (WebSocket): an agent registering a model pool.
// The token is checked here, before the socket reaches the model's Durable Object:
// unknown, revoked or expired → 401; a stored token whose patterns do not allow the
// model → 403 naming its patterns. The Durable Object learns which stored token the
// agent used, so revoking that token closes the socket (agent-tokens.ts).

const ERROR_TYPES: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error' };

function error(status: number, message: string, code: string): Response {
  return new Response(JSON.stringify({ error: { message, type: ERROR_TYPES[status] ?? 'invalid_request_error', param: null, code } }), {
    status,
    headers: { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) },
  });
}

export async function handleAgentConnect(request: Request, env: TunnelEnv & Pick<Env, 'DB'>): Promise<Response> {
  if (!env.ONPREM_MODELS) return error(503, 'This gateway has no on-prem model binding (ONPREM_MODELS).', 'onprem_not_configured');
  const identity = await identifyAgent(env, presentedKey(request.headers), Date.now());
  if ('status' in identity) return error(identity.status, identity.message, identity.code);
  const model = new URL(request.url).searchParams.get('model')?.trim();
  if (!model || model === REGISTRY || model.length > 200) return error(400, 'Name the model this connection serves: /v1/agent/connect?model=NAME', 'invalid_model');
  const refused = scopeRefusal(identity, model);
  if (refused) return error(refused.status, refused.message, refused.code);
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return error(426, 'Expected a WebSocket upgrade.', 'upgrade_required');
  const headers = new Headers(request.headers);
  headers.set(MODEL_HEADER, model);
  headers.delete('authorization'); // checked here; the Durable Object has no use for the token
  // Set by the gateway only: whatever a client sent under this name is replaced or removed.
  if (identity.tokenId) headers.set(AGENT_TOKEN_HEADER, identity.tokenId);
  else headers.delete(AGENT_TOKEN_HEADER);
  const stub = env.ONPREM_MODELS.get(env.ONPREM_MODELS.idFromName(model));
  const response = await stub.fetch(new Request('https://onprem/connect', { headers }));
  // A revocation that landed after the check above but before the socket reached the
  // Durable Object found no socket to close there: look once more, now that it is there.
  if (response.status === 101 && identity.tokenId && env.DB && (await agentTokenRevoked(env.DB, identity.tokenId))) {
    await stub.fetch(`https://onprem/revoke-token?token_id=${encodeURIComponent(identity.tokenId)}`, { method: 'POST', headers: { [MODEL_HEADER]: model } });
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
