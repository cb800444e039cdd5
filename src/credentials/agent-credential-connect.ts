import { presentedKey } from '../auth/gateway-keys';
import type { Env } from '../env';
import { agentConnectError, handOverAgentSocket } from '../tunnel/agent-connect';
import { identifyAgent } from '../tunnel/agent-tokens';
import { CREDENTIAL_HEADER } from './agent-credential';

// GET /v1/agent/credentials?name=NAME (WebSocket): a switchboard-agent brokering the
// Azure CLI login of its box for credential NAME. The agent token is checked here, the
// same way as for /v1/agent/connect, before the socket reaches the credential's object.

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;


export async function handleAgentCredentialConnect(request: Request, env: Env): Promise<Response> {
  if (!env.AGENT_CREDENTIALS) return agentConnectError(503, 'This gateway has no agent-credential binding (AGENT_CREDENTIALS).', 'agent_credentials_not_configured');
  // Any valid agent token (AGENT_TOKENS or stored in D1), checked as for /v1/agent/connect; model scopes do not apply to credentials.
  const identity = await identifyAgent(env, presentedKey(request.headers), Date.now());
  if ('status' in identity) return agentConnectError(identity.status, identity.message, identity.code);
  const name = new URL(request.url).searchParams.get('name')?.trim() ?? '';
  if (!NAME.test(name)) return agentConnectError(400, 'Name the credential this connection brokers: /v1/agent/credentials?name=NAME (letters, digits, . _ -).', 'invalid_credential_name');
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return agentConnectError(426, 'Expected a WebSocket upgrade.', 'upgrade_required');
  const stub = env.AGENT_CREDENTIALS.get(env.AGENT_CREDENTIALS.idFromName(name));
  return handOverAgentSocket(request, identity, env.DB, stub, { origin: 'https://credential', header: CREDENTIAL_HEADER, name });
}
