import type { Env } from '../../env';
import { GatewayError } from '../../openai/errors';
import type { DeploymentOptions } from '../../routing/catalog';
import { forwardChatCompletion } from '../openai/forward';
import { serializeRequest } from '../openai';
import type { Provider } from '../provider';

const DEFAULT_API_VERSION = '2024-10-21';

/**
 * How the gateway authenticates to an Azure OpenAI resource. Today an API key; the
 * key-management issue adds an Entra ID token provider behind the same signature.
 */
export type AzureAuth = (env: Env, options: DeploymentOptions) => Promise<{ headers: Record<string, string>; secret?: string }>;

export const azureApiKeyAuth: AzureAuth = async (env, options) => {
  const secretName = options.api_key_secret ?? 'AZURE_OPENAI_API_KEY';
  const key = (env as unknown as Record<string, string | undefined>)[secretName];
  if (!key) {
    throw new GatewayError(503, `Azure OpenAI is not configured on this gateway (no ${secretName}).`, 'server_error', null, 'provider_not_configured');
  }
  return { headers: { 'api-key': key }, secret: key };
};

/** The chat-completions URL of one deployment. */
export function azureChatUrl(endpoint: string, deployment: string, apiVersion: string): string {
  return `${endpoint.replace(/\/+$/, '')}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${encodeURIComponent(apiVersion)}`;
}

/**
 * Makes Azure's stream events OpenAI chunks: Azure opens with a chunk that only
 * carries `prompt_filter_results` (no id, no choices, `object: ""`), dropped here, and
 * sends `"system_fingerprint":null` where OpenAI's schema has a string, removed here
 * (strictly typed clients reject it). Everything else passes unchanged.
 */
export function normalizeAzureStreamEvent(data: string): string | null {
  if (data.includes('"prompt_filter_results"')) {
    try {
      const chunk = JSON.parse(data);
      if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && !chunk.id && !chunk.usage) return null;
    } catch {
      // not JSON: pass it on as it is
    }
  }
  return data.includes('"system_fingerprint":null') ? data.replace(/"system_fingerprint":null,|,"system_fingerprint":null/, '') : data;
}

export function createAzureProvider(auth: AzureAuth = azureApiKeyAuth): Provider {
  return {
    isConfigured: (env) => Boolean(env.AZURE_OPENAI_ENDPOINT && env.AZURE_OPENAI_API_KEY),

    async chatCompletion({ request, target, env, signal, streamIdleTimeoutMs, watchPassThroughStreams }) {
      const endpoint = target.options.endpoint ?? env.AZURE_OPENAI_ENDPOINT;
      if (!endpoint) {
        throw new GatewayError(503, 'Azure OpenAI is not configured on this gateway (no AZURE_OPENAI_ENDPOINT).', 'server_error', null, 'provider_not_configured');
      }
      const apiVersion = target.options.api_version ?? env.AZURE_OPENAI_API_VERSION ?? DEFAULT_API_VERSION;
      const { headers, secret } = await auth(env, target.options);
      // The deployment is in the URL; Azure takes no `model` in the body.
      const { model: _model, ...body } = request;
      return forwardChatCompletion({
        provider: 'Azure OpenAI',
        url: azureChatUrl(endpoint, target.model, apiVersion),
        headers,
        body: serializeRequest(body),
        stream: request.stream === true,
        signal,
        idleTimeoutMs: watchPassThroughStreams ? streamIdleTimeoutMs : 0,
        secrets: [secret],
        rewriteEvent: normalizeAzureStreamEvent,
      });
    },
  };
}

export const azureProvider = createAzureProvider();
