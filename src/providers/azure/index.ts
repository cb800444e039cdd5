import { GatewayError } from '../../openai/errors';
import { azureAuth, azureAuthConfigured, type AzureAuth } from './auth';
import { forwardChatCompletion } from '../openai/forward';
import { serializeRequest } from '../openai';
import type { Provider } from '../provider';

const DEFAULT_API_VERSION = '2024-10-21';

export type { AzureAuth } from './auth';

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

/** An Azure OpenAI provider; `auth` signs each call in (auth.ts: API key, Entra service principal, or agent-brokered token). */
export function createAzureProvider(auth: AzureAuth = azureAuth): Provider {
  return {
    isConfigured: (env, options) => Boolean((options?.endpoint ?? env.AZURE_OPENAI_ENDPOINT) && azureAuthConfigured(env, options)),

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
