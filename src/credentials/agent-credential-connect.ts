import { presentedKey } from '../auth/gateway-keys';
import type { Env } from '../env';
import { agentTokenRevoked, identifyAgent } from '../tunnel/agent-tokens';
import { AGENT_TOKEN_HEADER } from '../tunnel/model-object';
import { CREDENTIAL_HEADER } from './agent-credential';

// GET /v1/agent/credentials?name=NAME (WebSocket): a switchboard-agent brokering the
// Azure CLI login of its box for credential NAME. The agent token is checked here, the
// same way as for /v1/agent/connect, before the socket reaches the credential's object.

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function error(status: number, message: string, code: string): Response {
  return Response.json({ error: { message, type: status === 401 ? 'authentication_error' : 'invalid_request_error', param: null, code } }, { status });
}

export async function handleAgentCredentialConnect(request: Request, env: Env): Promise<Response> {
  if (!env.AGENT_CREDENTIALS) return error(503, 'This gateway has no agent-credential binding (AGENT_CREDENTIALS).', 'agent_credentials_not_configured');
  // Any valid agent token (AGENT_TOKENS or stored in D1), checked as for /v1/agent/connect; model scopes do not apply to credentials.
  const identity = await identifyAgent(env, presentedKey(request.headers), Date.now());
  if ('status' in identity) return error(identity.status, identity.message, identity.code);
  const name = new URL(request.url).searchParams.get('name')?.trim() ?? '';
  if (!NAME.test(name)) return error(400, 'Name the credential this connection brokers: /v1/agent/credentials?name=NAME (letters, digits, . _ -).', 'invalid_credential_name');
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return error(426, 'Expected a WebSocket upgrade.', 'upgrade_required');
  const headers = new Headers(request.headers);
  headers.set(CREDENTIAL_HEADER, name);
  headers.delete('authorization'); // checked here; the Durable Object has no use for the token
  // Which stored token the agent used (set by the gateway only), so that revoking it cuts the agent off.
  if (identity.tokenId) headers.set(AGENT_TOKEN_HEADER, identity.tokenId);
  else headers.delete(AGENT_TOKEN_HEADER);
  const stub = env.AGENT_CREDENTIALS.get(env.AGENT_CREDENTIALS.idFromName(name));
  const response = await stub.fetch(new Request('https://credential/connect', { headers }));
  // A revocation that landed after the check above but before the socket reached the
  // Durable Object found no socket to close there: look once more, now that it is there.
  if (response.status === 101 && identity.tokenId && env.DB && (await agentTokenRevoked(env.DB, identity.tokenId))) {
    await stub.fetch(`https://credential/revoke-token?token_id=${encodeURIComponent(identity.tokenId)}`, { method: 'POST', headers: { [CREDENTIAL_HEADER]: name } });
  }
  return response;
}
