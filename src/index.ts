import { Hono } from 'hono';
import { admin } from './auth/admin';
import { requireGatewayKey } from './auth/gateway-keys';
import { chatCompletions } from './chat-completions';
import { me } from './auth/me';
import { meterChatCompletions } from './usage/meter';
import type { AppEnv } from './env';
import { GatewayError, errorResponse } from './openai/errors';
import { listModels, retrieveModel } from './models';
import { handleAgentConnect } from './tunnel/agent-connect';
import { handleAgentCredentialConnect } from './credentials/agent-credential-connect';

const app = new Hono<AppEnv>();

app.use('*', async (c, next) => {
  const requestId = c.req.header('x-request-id')?.slice(0, 128) || crypto.randomUUID();
  c.set('requestId', requestId);
  await next();
  // Every answer names its request, errors from auth and routing included, so a report can be matched to a log line.
  // (Not on a WebSocket upgrade; a response passed on from a Durable Object has immutable headers, so it is copied.)
  if (c.res.status === 101 || c.res.headers.has('x-request-id')) return;
  try {
    c.res.headers.set('x-request-id', requestId);
  } catch {
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set('x-request-id', requestId);
  }
});

app.get('/health', (c) => c.json({ ok: true }));
// Agents carry an agent token, not a gateway key: their route comes before the key check.
app.get('/v1/agent/connect', (c) => handleAgentConnect(c.req.raw, c.env));
app.get('/v1/agent/credentials', (c) => handleAgentCredentialConnect(c.req.raw, c.env));
// Authorized by ADMIN_TOKEN, never by a gateway key (auth/admin.ts).
app.route('/admin', admin);
app.use('/v1/*', requireGatewayKey);
app.use('/v1/chat/completions', meterChatCompletions);
app.get('/v1/me', me);
app.post('/v1/chat/completions', chatCompletions);
app.get('/v1/models', listModels);
// Model names may hold a slash (`openai/gpt-4o`): the rest of the path is the name.
app.get('/v1/models/:model{.+}', retrieveModel);

// Azure-style clients (`AzureOpenAI` with this gateway as its `endpoint`): the same API under
// /openai, the deployment in the path naming the model; `api-version` is accepted and not needed.
const AZURE_CHAT = '/openai/deployments/:deployment{.+}/chat/completions';
app.use('/openai/*', requireGatewayKey);
app.use(AZURE_CHAT, async (c, next) => {
  c.set('pathModel', c.req.param('deployment'));
  await next();
});
app.use(AZURE_CHAT, meterChatCompletions);
app.post(AZURE_CHAT, chatCompletions);
app.get('/openai/models', listModels);
app.get('/openai/models/:model{.+}', retrieveModel);
// A known path with the wrong method: say which method it takes rather than "unknown endpoint".
for (const [path, allowed] of [
  ['/v1/chat/completions', 'POST'],
  ['/v1/models', 'GET'],
  ['/v1/models/:model{.+}', 'GET'],
  [AZURE_CHAT, 'POST'],
  ['/openai/models', 'GET'],
  ['/openai/models/:model{.+}', 'GET'],
] as const) {
  const shown = path.replace(/:(\w+)\{[^}]*\}/g, '{$1}'); // `/v1/models/{model}`, as the API reference writes it
  app.all(path, (c) =>
    errorResponse(
      new GatewayError(405, `${c.req.method} is not allowed on ${shown}; use ${allowed}.`, 'invalid_request_error', null, 'method_not_allowed'),
      { allow: allowed },
    ),
  );
}

app.notFound((c) =>
  errorResponse(
    new GatewayError(404, `Unknown endpoint: ${c.req.method} ${new URL(c.req.url).pathname}`, 'invalid_request_error', null, 'unknown_url'),
  ),
);

app.onError((error, c) => {
  const requestId = { 'x-request-id': c.get('requestId') ?? '' };
  if (error instanceof GatewayError) return errorResponse(error, requestId);
  // Never a stack trace to the client; the log line names the request, not its content.
  console.error(`request ${requestId['x-request-id']} failed:`, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  return errorResponse(new GatewayError(500, 'The gateway failed unexpectedly while handling this request.', 'server_error', null, 'internal_error'), requestId);
});

export default app;
export { DeploymentHealth } from './routing/deployment-health';
export { OnPremModel } from './tunnel/model-object';
export { KeyLimiter } from './auth/key-limiter';
export { AgentCredential } from './credentials/agent-credential';
