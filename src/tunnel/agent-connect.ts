import { presentedKey } from '../auth/gateway-keys';
import { agentTokenValid } from './agent-tokens';
import { MODEL_HEADER, REGISTRY, type TunnelEnv } from './model-object';

// GET /v1/agent/connect?model=NAME (WebSocket): an agent registering a model pool.
// The token is checked here, before the socket reaches the model's Durable Object.

function error(status: number, message: string, code: string): Response {
  return new Response(JSON.stringify({ error: { message, type: status === 401 ? 'authentication_error' : 'invalid_request_error', param: null, code } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export async function handleAgentConnect(request: Request, env: TunnelEnv): Promise<Response> {
  if (!env.ONPREM_MODELS) return error(503, 'This gateway has no on-prem model binding (ONPREM_MODELS).', 'onprem_not_configured');
  if (!(await agentTokenValid(env.AGENT_TOKENS, presentedKey(request.headers)))) {
    return error(401, 'Invalid agent token. Send it as "Authorization: Bearer <token>"; tokens are the AGENT_TOKENS secret.', 'invalid_agent_token');
  }
  const model = new URL(request.url).searchParams.get('model')?.trim();
  if (!model || model === REGISTRY || model.length > 200) return error(400, 'Name the model this connection serves: /v1/agent/connect?model=NAME', 'invalid_model');
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return error(426, 'Expected a WebSocket upgrade.', 'upgrade_required');
  const headers = new Headers(request.headers);
  headers.set(MODEL_HEADER, model);
  const stub = env.ONPREM_MODELS.get(env.ONPREM_MODELS.idFromName(model));
  return stub.fetch(new Request('https://onprem/connect', { headers }));
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
