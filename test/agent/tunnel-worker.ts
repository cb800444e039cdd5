// A test entry for workerd: the real OnPremModel Durable Object, agent-connect handler
// and onprem provider, wired the way src/index.ts will wire them once the lead
// registers them (they are not yet in the gateway's build; see the helper report).

import { GatewayError, errorResponse } from '../../src/openai/errors';
import { onpremProvider } from '../../src/providers/onprem';
import { handleAgentConnect, onPremModels } from '../../src/tunnel/agent-connect';
import type { TunnelEnv } from '../../src/tunnel/model-object';

export { OnPremModel } from '../../src/tunnel/model-object';

export default {
  async fetch(request: Request, env: TunnelEnv): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      if (path === '/v1/agent/connect') return await handleAgentConnect(request, env);
      if (path === '/v1/models') {
        const data = (await onPremModels(env)).map((m) => ({ id: m.model, object: 'model', created: 0, owned_by: 'onprem' }));
        return Response.json({ object: 'list', data });
      }
      if (path === '/v1/chat/completions' && request.method === 'POST') {
        const body = (await request.json()) as any;
        const result = await onpremProvider.chatCompletion({
          request: body,
          target: { name: body.model, provider: 'onprem', model: body.model, options: {} } as any,
          env: env as any,
          signal: request.signal,
          notes: { dropped: [], adapted: [] },
          maxImageBytes: 20 << 20,
        });
        if (result.stream) return new Response(result.body, { headers: { 'content-type': 'text/event-stream' } });
        return new Response(typeof result.body === 'string' ? result.body : JSON.stringify(result.body), { headers: { 'content-type': 'application/json' } });
      }
      return new Response('not found', { status: 404 });
    } catch (error) {
      if (error instanceof GatewayError) return errorResponse(error);
      return errorResponse(new GatewayError(500, `test worker: ${(error as Error).message}`, 'server_error'));
    }
  },
};
