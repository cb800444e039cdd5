import { Hono } from 'hono';
import type { AppEnv } from '../src/env';
import { errorResponse, GatewayError, modelNotFound } from '../src/openai/errors';
import { parseChatRequest } from '../src/openai/parse-chat-request';
import { callTarget } from '../src/routing/call-target';
import { catalogFor } from '../src/routing/catalog';

// The bare translator: the gateway's own parse, translation, provider call (the SDK's, for
// Claude) and stream translation, and nothing else: no key check, request id, usage meter,
// on-prem peek, retry policy, timeouts or cooldowns. Run beside the floor and the gateway
// with the gateway's wrangler.toml, it splits the gateway's overhead into what translating
// costs in this runtime (any OpenAI-compatible gateway in front of Claude or Gemini pays it)
// and what the gateway's other features add on top.

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

const app = new Hono<AppEnv>();

app.get('/health', (c) => c.json({ ok: true }));

app.post('/v1/chat/completions', async (c) => {
  const request = parseChatRequest(await c.req.text(), { maxImageBytes: MAX_IMAGE_BYTES });
  const route = catalogFor(c.env.MODELS).route(request.model);
  if (!route) throw modelNotFound(request.model);
  const { result } = await callTarget(request, route.deployments[0].target, { env: c.env, signal: c.req.raw.signal, maxImageBytes: MAX_IMAGE_BYTES });
  return result.stream
    ? new Response(result.body, { headers: { 'content-type': 'text/event-stream; charset=utf-8' } })
    : new Response(typeof result.body === 'string' ? result.body : JSON.stringify(result.body), { headers: { 'content-type': 'application/json' } });
});

// A bench setup mistake (a model this config does not route) shows as the gateway's error, not a 500.
app.onError((error) => (error instanceof GatewayError ? errorResponse(error) : new Response(String(error), { status: 500 })));

export default app;
// The gateway's wrangler.toml binds these classes: the Worker must export them to start.
export { DeploymentHealth, OnPremModel, KeyLimiter, AgentCredential } from '../src/index';
