import { agentCredentialToken } from '../../credentials/agent-credential-client';
import { requestEntraToken, DEFAULT_AUTHORITY_HOST, type ServicePrincipal } from '../../credentials/entra';
import { apiKeyFor, hasApiKey, secretValue } from '../../credentials/secrets';
import { tokenCache } from '../../credentials/token-cache';
import type { Env } from '../../env';
import { GatewayError } from '../../openai/errors';
import type { DeploymentOptions } from '../../routing/catalog';

// How the gateway signs in to an Azure OpenAI resource, per deployment (`auth` option):
//   (none) / "api_key"  the `api-key` header, from api_key_secret (default AZURE_OPENAI_API_KEY)
//   "entra"             a service principal: tenant_id, client_id (or AZURE_TENANT_ID /
//                       AZURE_CLIENT_ID) and the secret named by client_secret_secret
//                       (default AZURE_CLIENT_SECRET); authority_host (or AZURE_AUTHORITY_HOST)
//   "agent:NAME"        a token from the Azure CLI login on a box whose switchboard-agent
//                       brokers credential NAME (credentials/agent-credential.ts)
// Entra tokens go out as `Authorization: Bearer …`, cached per credential (token-cache.ts).

export interface AzureSignIn {
  headers: Record<string, string>;
  /** What must never appear in an error passed on (the key or token). */
  secret?: string;
}

export type AzureAuth = (env: Env, options: DeploymentOptions) => Promise<AzureSignIn>;

type AuthKind = { kind: 'api_key' } | { kind: 'entra' } | { kind: 'agent'; name: string } | { kind: 'unknown'; value: string };

export function authKind(options: DeploymentOptions | undefined): AuthKind {
  const auth = options?.auth;
  if (auth === undefined || auth === 'api_key') return { kind: 'api_key' };
  if (auth === 'entra') return { kind: 'entra' };
  if (typeof auth === 'string' && auth.startsWith('agent:') && auth.length > 'agent:'.length) return { kind: 'agent', name: auth.slice('agent:'.length) };
  return { kind: 'unknown', value: String(auth) };
}

/** How long an isolate uses an agent-brokered token before asking its Durable Object again (which notices a revoked agent token). */
const agentRecheckMs = (env: Env) => {
  const ms = Number(env.AGENT_CREDENTIAL_RECHECK_MS);
  return env.AGENT_CREDENTIAL_RECHECK_MS !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : 60_000;
};

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** The service principal a deployment names, or what is missing (names only). */
export function servicePrincipal(env: Env, options: DeploymentOptions): ServicePrincipal | { missing: string[] } {
  const tenantId = str(options.tenant_id) ?? env.AZURE_TENANT_ID;
  const clientId = str(options.client_id) ?? env.AZURE_CLIENT_ID;
  const secretName = str(options.client_secret_secret) ?? 'AZURE_CLIENT_SECRET';
  const clientSecret = secretValue(env, secretName);
  const missing = [
    ...(tenantId ? [] : ['tenant_id (or AZURE_TENANT_ID)']),
    ...(clientId ? [] : ['client_id (or AZURE_CLIENT_ID)']),
    ...(clientSecret ? [] : [`the secret ${secretName}`]),
  ];
  if (!tenantId || !clientId || !clientSecret) return { missing };
  const authorityHost = str(options.authority_host) ?? env.AZURE_AUTHORITY_HOST ?? DEFAULT_AUTHORITY_HOST;
  return { authorityHost, tenantId, clientId, clientSecret, secretName };
}

/** Whether the deployment has what its sign-in needs (routing, GET /v1/models). */
export function azureAuthConfigured(env: Env, options: DeploymentOptions | undefined): boolean {
  const kind = authKind(options);
  switch (kind.kind) {
    case 'api_key':
      return hasApiKey(env, options, 'AZURE_OPENAI_API_KEY');
    case 'entra':
      return !('missing' in servicePrincipal(env, options ?? {}));
    case 'agent':
      return Boolean(env.AGENT_CREDENTIALS);
    default:
      return true; // reported as a configuration error when called
  }
}

export const azureAuth: AzureAuth = async (env, options): Promise<AzureSignIn> => {
  const kind = authKind(options);
  switch (kind.kind) {
    case 'api_key': {
      const key = apiKeyFor(env, options, 'AZURE_OPENAI_API_KEY', 'Azure OpenAI');
      return { headers: { 'api-key': key }, secret: key };
    }
    case 'entra': {
      const sp = servicePrincipal(env, options);
      if ('missing' in sp) {
        throw new GatewayError(503, `Azure OpenAI (auth = "entra") is not configured on this gateway: missing ${sp.missing.join(', ')}.`, 'server_error', null, 'provider_not_configured');
      }
      const cacheKey = `entra\n${sp.authorityHost}\n${sp.tenantId}\n${sp.clientId}\n${sp.secretName}`;
      const { token } = await tokenCache.get(cacheKey, () => requestEntraToken(sp));
      return { headers: { authorization: `Bearer ${token}` }, secret: token };
    }
    case 'agent': {
      const { token } = await tokenCache.get(`agent\n${kind.name}`, () => agentCredentialToken(env, kind.name, agentRecheckMs(env)), {
        keepOnFailure: false,
      });
      return { headers: { authorization: `Bearer ${token}` }, secret: token };
    }
    default:
      throw new GatewayError(
        500,
        `Gateway configuration error: Azure auth must be "api_key", "entra" or "agent:NAME" (got "${kind.value}").`,
        'server_error',
        null,
        'gateway_misconfigured',
      );
  }
};
