import { GatewayError } from '../../openai/errors';
import { MODEL_HEADER, TUNNEL_ERROR_HEADER } from '../../tunnel/tunnel-names';
import { openAIStyleError, pipeSseStream } from '../openai/forward';
import { serializeRequest } from '../openai';
import type { Provider } from '../provider';
import { upstreamNetworkError } from '../upstream-error';

// On-prem models (vLLM, LMDeploy, custom servers behind a switchboard-agent): the
// request goes, unchanged apart from the model name, through the model's Durable
// Object and the agent's tunnel to an engine, and the answer comes back byte for byte.

export const onpremProvider: Provider = {
  isConfigured: (env) => Boolean(env.ONPREM_MODELS),

  async chatCompletion({ request, target, env, signal, streamIdleTimeoutMs, watchPassThroughStreams }) {
    const { ONPREM_MODELS } = env;
    if (!ONPREM_MODELS) throw new GatewayError(503, 'This gateway has no on-prem model binding (ONPREM_MODELS).', 'upstream_error', null, 'onprem_not_configured');
    const stub = ONPREM_MODELS.get(ONPREM_MODELS.idFromName(target.model));
    let response: Response;
    try {
      response = await stub.fetch('https://onprem/forward', {
        method: 'POST',
        headers: { 'content-type': 'application/json', [MODEL_HEADER]: target.model },
        body: serializeRequest({ ...request, model: target.model }),
        signal,
      });
    } catch (error) {
      throw upstreamNetworkError(`on-prem model ${target.model}`, error);
    }
    if (!response.ok) {
      if (response.headers.has(TUNNEL_ERROR_HEADER)) {
        // The tunnel's own verdict (no agent online, never registered, agent gone): already in the client's terms.
        const { error } = (await response.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
        throw new GatewayError(response.status, error.message, error.type, error.param ?? (response.status === 404 ? 'model' : null), error.code);
      }
      throw await openAIStyleError(`on-prem model ${target.model}`, response, []);
    }
    // A client that goes away aborts `signal`, and with it the Durable Object's request,
    // which sends CANCEL to the agent (see tunnel/model-object.ts).
    if (request.stream !== true) return { stream: false, body: await response.text() };
    if (!response.body) throw upstreamNetworkError(`on-prem model ${target.model}`, new Error('empty stream'));
    return { stream: true, body: pipeSseStream(response.body, `on-prem model ${target.model}`, watchPassThroughStreams ? streamIdleTimeoutMs : 0) };
  },
};
