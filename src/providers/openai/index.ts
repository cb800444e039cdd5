import { apiKeyFor, hasApiKey } from '../../credentials/secrets';
import { badRequest } from '../../openai/errors';
import type { Provider } from '../provider';
import { forwardChatCompletion } from './forward';

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** OpenAI: a pass-through. Every parameter, known to the gateway or not, reaches OpenAI unchanged. */
export const openaiProvider: Provider = {
  isConfigured: (env, options) => hasApiKey(env, options, 'OPENAI_API_KEY'),

  async chatCompletion({ request, target, env, signal, streamIdleTimeoutMs, watchPassThroughStreams }) {
    // Per deployment: api_key_secret (several keys, credentials/expand-credentials.ts) and base_url.
    const apiKey = apiKeyFor(env, target.options, 'OPENAI_API_KEY', 'OpenAI');
    const baseUrl = typeof target.options.base_url === 'string' ? target.options.base_url : (env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL);
    return forwardChatCompletion({
      provider: 'OpenAI',
      url: `${baseUrl.replace(/\/+$/, '')}/chat/completions`,
      headers: { authorization: `Bearer ${apiKey}` },
      body: serializeRequest({ ...request, model: target.model }),
      stream: request.stream === true,
      signal,
      idleTimeoutMs: watchPassThroughStreams ? streamIdleTimeoutMs : 0,
      secrets: [apiKey],
    });
  },
};

/** JSON.stringify, with a 400 for bodies too deeply nested to re-serialise. */
export function serializeRequest(body: unknown): string {
  try {
    return JSON.stringify(body);
  } catch {
    throw badRequest('The request body is nested too deeply.', null, 'invalid_json');
  }
}
