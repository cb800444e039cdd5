import type { Context } from 'hono';
import { assertModelAllowed } from './auth/gateway-keys';
import type { AppEnv, Env } from './env';
import { drainable, drainUpload } from './openai/drain-upload';
import { modelNotFound, payloadTooLarge } from './openai/errors';
import { parseChatRequest } from './openai/parse-chat-request';
import { onPremChatCompletion } from './providers/onprem/pass-through';
import { callTarget } from './routing/call-target';
import { catalogFor, type Route } from './routing/catalog';
import { IsolateCooldownStore, type CooldownStore } from './routing/cooldown';
import { SharedCooldownStore } from './routing/deployment-health';
import { DEFAULT_RETRY_POLICY, parseRoutingVar, readPolicyHeaders, type RetryPolicy } from './routing/retry-policy';
import { abortableSleep, routeRequest, routingHeaders } from './routing/router';

const MiB = 1024 * 1024;
/** Fits ten full-HD PNG screenshots (≈ 3–4 MB of base64 each) with room to spare. */
const DEFAULT_MAX_BODY_BYTES = 64 * MiB;
const DEFAULT_MAX_IMAGE_BYTES = 20 * MiB;

const limit = (value: string | undefined, fallback: number) => {
  const n = Number(value);
  return value && Number.isFinite(n) && n > 0 ? n : fallback;
};

/** POST /v1/chat/completions */
export async function chatCompletions(c: Context<AppEnv>): Promise<Response> {
  const env = c.env;
  const maxBodyBytes = limit(env.MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES);
  const maxImageBytes = limit(env.MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_BYTES);
  const pathModel = c.get('pathModel');
  // A name served by one on-prem model: the body streams through to its engine unparsed (providers/onprem/pass-through.ts).
  const onprem = await onPremChatCompletion(c.req.raw, {
    env,
    model: pathModel,
    maxBodyBytes,
    maxImageBytes,
    route: (model) => routeFor(env, model),
    authorize: (model) => {
      c.get('meter')?.named(model);
      assertModelAllowed(c.get('gatewayKey'), model);
    },
    meter: c.get('meter'),
  });
  if (onprem instanceof Response) return onprem;
  const text = typeof onprem === 'string' ? onprem : await readBodyText(onprem, maxBodyBytes);
  const request = parseChatRequest(text, { maxImageBytes });
  if (pathModel !== undefined) request.model = pathModel;
  assertModelAllowed(c.get('gatewayKey'), request.model);
  c.get('meter')?.begin(request); // usage accounting (usage/meter.ts): may ask a stream for its usage chunk

  const route = routeFor(env, request.model);
  if (!route) throw modelNotFound(request.model);
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...routingDefaults(env.ROUTING), ...route.policy, ...readPolicyHeaders(c.req.raw.headers) };
  // Pass-through streams are watched for silence only where a limit is configured (ProviderCall.watchPassThroughStreams).
  const watchPassThroughStreams = routingDefaults(env.ROUTING).streamIdleTimeoutMs !== undefined || route.policy.streamIdleTimeoutMs !== undefined;
  // Strict mode: adaptations to the target model become 400s instead (capabilities/).
  const strict = c.req.header('x-switchboard-strict') === 'true';
  const { result, notes, deployment, attempts } = await routeRequest(route, policy, request.stream === true, c.req.raw.signal, {
    call: (target, signal) => callTarget(request, target, {
        env,
        signal,
        maxImageBytes,
        strict,
        streamIdleTimeoutMs: policy.streamIdleTimeoutMs,
        watchPassThroughStreams,
      }),
    cooldowns: cooldownStore(c),
    random: Math.random,
    now: Date.now,
    sleep: abortableSleep,
  });

  c.get('meter')?.served(deployment.target, deployment.label, result);
  const headers = new Headers({ 'x-request-id': c.get('requestId'), ...routingHeaders(deployment.label, attempts.length) });
  if (notes.dropped.length) headers.set('x-switchboard-dropped-params', notes.dropped.join(', '));
  if (notes.adapted.length) headers.set('x-switchboard-adapted', notes.adapted.join(', '));
  if (result.stream) {
    headers.set('content-type', 'text/event-stream; charset=utf-8');
    headers.set('cache-control', 'no-cache');
    return new Response(result.body, { headers });
  }
  headers.set('content-type', 'application/json');
  return new Response(typeof result.body === 'string' ? result.body : JSON.stringify(result.body), { headers });
}

/**
 * The deployments behind a model name: a configured name or `provider/model`, else
 * (with on-prem models bound) the name a local-agent registered — its Durable Object
 * answers 404 for a name never registered and 503 while no agent is online.
 */
function routeFor(env: Env, model: string): Route | undefined {
  const catalog = catalogFor(env.MODELS);
  const route = catalog.route(model);
  if (route || !env.ONPREM_MODELS) return route;
  const onprem = catalog.route(`onprem/${model}`);
  return onprem && { ...onprem, name: model };
}

/**
 * Deployment health as this isolate knows it; with a DEPLOYMENT_HEALTH Durable Object
 * binding it is shared with every other isolate (routing/deployment-health.ts).
 */
const isolateCooldowns = new IsolateCooldownStore();

/** Also read by GET /v1/models, which shows this health per deployment. */
export function cooldownStore(c: Context<AppEnv>): CooldownStore {
  const namespace = c.env.DEPLOYMENT_HEALTH;
  if (!namespace) return isolateCooldowns;
  return new SharedCooldownStore(isolateCooldowns, namespace, (promise) => c.executionCtx.waitUntil(promise));
}

let lastRouting: { value: unknown; policy: Partial<RetryPolicy> } | undefined;
function routingDefaults(routing: Env['ROUTING']): Partial<RetryPolicy> {
  const cached = lastRouting;
  if (cached && cached.value === routing) return cached.policy;
  const policy = parseRoutingVar(routing);
  lastRouting = { value: routing, policy };
  return policy;
}

/** Reads the body as text, refusing (413) anything over `maxBytes` without keeping it. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    payloadTooLarge(`The request body is larger than this gateway's limit of ${maxBytes} bytes.`);
  const declared = Number(request.headers.get('content-length'));
  if (declared > maxBytes) {
    if (request.body && drainable(declared)) await drainUpload(request.body.getReader(), declared);
    throw tooLarge();
  }
  if (!request.body) return '';
  if (declared > 0) return request.text();
  // No content-length (chunked upload): count as it arrives.
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > maxBytes) {
      await drainUpload(reader, size);
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
}

export type { Env };
