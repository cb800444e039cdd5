import { badRequest } from '../../openai/errors';
import type { Provider } from '../provider';
import { forwardChatCompletion } from './forward';

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** OpenAI: a pass-through. Every parameter, known to the gateway or not, reaches OpenAI unchanged. */
export const openaiProvider: Provider = {
  isConfigured: (env) => Boolean(env.OPENAI_API_KEY),

  async chatCompletion({ request, target, env, signal, streamIdleTimeoutMs, watchPassThroughStreams }) {
    return forwardChatCompletion({
      provider: 'OpenAI',
      url: `${(env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}/chat/completions`,
      headers: { authorization: `Bearer ${env.OPENAI_API_KEY}` },
      body: serializeRequest({ ...request, model: target.model }),
      stream: request.stream === true,
      signal,
      idleTimeoutMs: watchPassThroughStreams ? streamIdleTimeoutMs : 0,
      secrets: [env.OPENAI_API_KEY],
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
