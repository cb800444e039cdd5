import { ModelFieldScanner } from '../../../local-agent/src/model-field.js';
import { drainUpload } from '../../openai/drain-upload';
import { GatewayError, payloadTooLarge } from '../../openai/errors';
import { parseChatRequest } from '../../openai/parse-chat-request';
import type { Route, Target } from '../../routing/catalog';
import { parseRoutingVar, readPolicyHeaders, type RetryPolicy } from '../../routing/retry-policy';
import { routingHeaders } from '../../routing/router';
import { MAX_CHUNK } from '../../tunnel/protocol';
import type { OnPremModel } from '../../tunnel/model-object';
import { INCLUDE_USAGE_HEADER, MODEL_HEADER, TUNNEL_ERROR_HEADER, type TunnelAnswer } from '../../tunnel/tunnel-names';
import { USAGE_ADDED_HEADER } from '../../../local-agent/src/include-usage.js';
import type { Env } from '../../env';
import { openAIStyleError, pipeSseStream } from '../openai/forward';
import { upstreamNetworkError } from '../upstream-error';

// On-prem models skip the gateway's parse: the body is read only up to its top-level
// "model", then streamed, byte for byte, through the model's Durable Object and the
// agent's tunnel to an engine, which validates it as it does any request. So the
// Worker's memory does not grow with the body (a 20 MB request with screenshots is
// never held whole), and a request costs no JSON parse or re-serialization.

export interface OnPremRequestContext {
  env: Env;
  /** The model named outside the body (an Azure-style path): used instead of the body's. */
  model?: string;
  maxBodyBytes: number;
  maxImageBytes: number;
  /** The deployments behind a model name, as the gateway routes it. */
  route: (model: string) => Route | undefined;
  /** Throws when the gateway key may not use the model (403). */
  authorize: (model: string) => void;
  /** Usage accounting (usage/meter.ts), when the gateway counts this request's tokens. */
  meter?: OnPremMeter;
}

/** What the usage meter learns from the pass-through path, which never parses the request. */
export interface OnPremMeter {
  /** The deployment that answered; `usageAdded`: the agent asked the engine for the stream's usage chunk the client did not ask for. */
  servedOnPrem(target: Target, label: string, usageAdded: boolean): void;
  /** A successful answer that is not a stream, read whole: its usage is read from it rather than from the body on its way out. */
  answeredWhole(body: string): void;
}

/**
 * POST /v1/chat/completions for a name served by exactly one on-prem model: its answer.
 * Any other request comes back for the gateway's ordinary path (which parses it, as names
 * with several deployments need for retries and fallbacks): its body as text when the peek
 * read it whole (within the size limit), so a cloud request's body is read only once; else
 * a Request, body intact.
 */
export async function onPremChatCompletion(request: Request, context: OnPremRequestContext): Promise<Response | Request | string> {
  const { env } = context;
  if (!env.ONPREM_MODELS || !request.body || Number(request.headers.get('content-length')) > context.maxBodyBytes) return request;
  const body = await peekModel(request, context.maxBodyBytes);
  const model = context.model ?? body.model;
  const route = typeof model === 'string' ? context.route(model) : undefined;
  const deployment = route?.deployments.length === 1 ? route.deployments[0] : undefined;
  if (!route || deployment?.target.provider !== 'onprem') return body.rest ? unpeeked(request, body) : utf8.decode(body.head);
  let policy: Partial<RetryPolicy>;
  try {
    context.authorize(model as string);
    policy = { ...parseRoutingVar(env.ROUTING), ...route.policy, ...readPolicyHeaders(request.headers) };
  } catch (error) {
    // Refused before the body went anywhere: read the rest of the upload, or the client sees a reset, not the answer.
    if (body.rest) await drainUpload(body.rest, body.head.byteLength);
    throw error;
  }
  return onPremPassThrough(body, {
    env,
    target: deployment.target,
    deploymentLabel: deployment.label,
    maxBodyBytes: context.maxBodyBytes,
    maxImageBytes: context.maxImageBytes,
    signal: request.signal,
    // As on the ordinary path: pass-through streams are watched for silence only where a limit is configured.
    streamIdleTimeoutMs: policy.streamIdleTimeoutMs ?? 0,
    meter: context.meter,
  });
}

const utf8 = new TextDecoder();

/** A request body read up to its top-level "model" (or its end, or the size limit). */
export interface PeekedBody {
  /** The model named (undefined: not found before the limit; null: none, or not JSON). */
  model: string | null | undefined;
  /** The bytes read so far. */
  head: Uint8Array;
  /** Where the model's value (quotes included) lies in `head`. */
  valueStart: number;
  valueEnd: number;
  /** The rest of the body, or null when `head` is all of it. */
  rest: ReadableStreamDefaultReader<Uint8Array> | null;
  /** The body stream `rest` reads (its lock released, it can be piped natively). */
  source: ReadableStream<Uint8Array> | null;
  /** The declared content-length (0: none, a chunked upload). */
  declared: number;
}

/**
 * Reads the body up to its "model". A body declared small enough for one tunnel frame is
 * read at once (one native read, not a loop of small ones). Reading stops at `maxBytes`
 * with the model undefined: the caller's own read then refuses the body (413).
 */
export async function peekModel(request: Request, maxBytes: number): Promise<PeekedBody> {
  const scanner = new ModelFieldScanner();
  const declared = Number(request.headers.get('content-length'));
  if (!request.body || (declared > 0 && declared <= MAX_CHUNK)) {
    const head = request.body ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array(0);
    if (scanner.feed(head) === undefined) scanner.end();
    return { model: scanner.result, head, valueStart: scanner.valueStart, valueEnd: scanner.valueEnd, rest: null, source: null, declared: head.byteLength };
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  while (scanner.result === undefined && size <= maxBytes) {
    const next = await reader.read();
    if (next.done) {
      scanner.end();
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.byteLength;
    scanner.feed(next.value);
  }
  return {
    model: scanner.result,
    head: concat(chunks, size),
    valueStart: scanner.valueStart,
    valueEnd: scanner.valueEnd,
    rest: done ? null : reader,
    source: done ? null : request.body,
    declared: declared > 0 ? declared : 0,
  };
}

/** The peeked body whole again, for the gateway's ordinary path (the bytes read, then the rest). */
export function unpeeked(request: Request, body: PeekedBody): Request {
  if (!body.rest) return new Request(request.url, { method: request.method, headers: request.headers, body: body.head.byteLength ? body.head : null });
  return new Request(request.url, { method: request.method, headers: request.headers, body: headThenRest(body.head, body.rest) });
}

/**
 * A body stream: `head`, then what `rest` reads. `admit` sees each later chunk before it
 * goes on; when it returns false the chunk is withheld and the stream is left unfinished
 * (the caller abandons the request).
 */
function headThenRest(head: Uint8Array, rest: ReadableStreamDefaultReader<Uint8Array>, admit?: (chunk: Uint8Array) => Promise<boolean>): ReadableStream<Uint8Array> {
  let first: Uint8Array | null = head;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (first) {
        controller.enqueue(first);
        first = null;
        return;
      }
      const { value, done } = await rest.read();
      if (done) return controller.close();
      if (admit && !(await admit(value))) return new Promise<void>(() => {});
      controller.enqueue(value);
    },
    cancel: (reason) => rest.cancel(reason),
  });
}

export interface OnPremPassThrough {
  env: Env;
  target: Target;
  /** x-switchboard-deployment */
  deploymentLabel: string;
  maxBodyBytes: number;
  maxImageBytes: number;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  streamIdleTimeoutMs: number;
  meter?: OnPremMeter;
}

/**
 * Sends a peeked body to its on-prem model and answers with the engine's response. The
 * body goes on as read, counted against the limit (over it: 413, the upload drained).
 */
export async function onPremPassThrough(body: PeekedBody, call: OnPremPassThrough): Promise<Response> {
  const { env, target, signal } = call;
  const namespace = env.ONPREM_MODELS;
  if (!namespace) throw new GatewayError(503, 'This gateway has no on-prem model binding (ONPREM_MODELS).', 'upstream_error', null, 'onprem_not_configured');
  const provider = `on-prem model ${target.model}`;
  const head = body.model === target.model ? body.head : withModel(body, target.model);
  if (!body.rest && head.byteLength <= MAX_CHUNK) return onPremCall(head, body, call);
  let tooLarge: Promise<never> | null = null;
  let payload: Uint8Array | ReadableStream<Uint8Array> = head;
  const upstream = new AbortController();
  const onClientGone = () => upstream.abort(signal.reason);
  if (signal.aborted) onClientGone();
  else signal.addEventListener('abort', onClientGone, { once: true });
  if (body.rest && body.source && body.declared > 0) {
    // A declared length is enforced by the runtime: the rest is piped natively, never touched in JavaScript.
    const { readable, writable } = new FixedLengthStream(body.declared - body.head.byteLength + head.byteLength);
    payload = readable;
    const [rest, source] = [body.rest, body.source];
    void (async () => {
      const writer = writable.getWriter();
      await writer.write(head);
      writer.releaseLock();
      rest.releaseLock();
      await source.pipeTo(writable);
    })().catch(() => upstream.abort());
  } else if (body.rest) {
    const rest = body.rest;
    let size = body.head.byteLength;
    let rejectTooLarge!: (error: GatewayError) => void;
    tooLarge = new Promise<never>((_, reject) => (rejectTooLarge = reject));
    tooLarge.catch(() => {});
    payload = headThenRest(head, rest, async (chunk) => {
      size += chunk.byteLength;
      if (size <= call.maxBodyBytes) return true;
      // The body is never ended toward the engine: the request is abandoned (the agent gets CANCEL), not cut short.
      await drainUpload(rest, size);
      upstream.abort();
      rejectTooLarge(payloadTooLarge(`The request body is larger than this gateway's limit of ${call.maxBodyBytes} bytes.`));
      return false;
    });
  }

  let response: Response;
  try {
    const sent = namespace.get(namespace.idFromName(target.model)).fetch('https://onprem/forward', {
      method: 'POST',
      headers: { 'content-type': 'application/json', [MODEL_HEADER]: target.model, ...(call.meter ? { [INCLUDE_USAGE_HEADER]: '1' } : {}) },
      body: payload,
      signal: upstream.signal,
    });
    response = await (tooLarge ? Promise.race([sent, tooLarge]) : sent);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw upstreamNetworkError(provider, error);
  }
  call.meter?.servedOnPrem(target, call.deploymentLabel, response.headers.get(USAGE_ADDED_HEADER) === '1');
  if (!response.ok) return answerError(response, body, call);
  const headers = new Headers(routingHeaders(call.deploymentLabel, 1));
  if (!response.body) throw upstreamNetworkError(provider, new Error('empty response'));
  // The engine's answer says whether it streams: the request's "stream" may come after 20 MB of messages.
  if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    headers.set('content-type', 'text/event-stream; charset=utf-8');
    headers.set('cache-control', 'no-cache');
    return new Response(pipeSseStream(response.body, provider, call.streamIdleTimeoutMs), { headers });
  }
  headers.set('content-type', 'application/json');
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw upstreamNetworkError(provider, error);
  }
  call.meter?.answeredWhole(text);
  return new Response(text, { headers });
}

/** A non-2xx answer as the GatewayError the client sees. */
async function answerError(response: Response, body: PeekedBody, call: OnPremPassThrough): Promise<never> {
  if (response.headers.has(TUNNEL_ERROR_HEADER)) {
    // The tunnel's own verdict (no agent online, never registered, agent gone). A body held
    // whole is checked first, so a malformed request is a 400 here as for any other model.
    if (!body.rest) parseChatRequest(new TextDecoder().decode(body.head), { maxImageBytes: call.maxImageBytes });
    const { error } = (await response.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    throw new GatewayError(response.status, error.message, error.type, error.param ?? (response.status === 404 ? 'model' : null), error.code);
  }
  throw await openAIStyleError(`on-prem model ${call.target.model}`, response, []);
}

/**
 * A body held whole that fits one frame, the common case: sent by RPC, which builds no
 * Request or Response on either side of the hop to the Durable Object, and answered as
 * bytes when the engine's answer is whole.
 */
async function onPremCall(payload: Uint8Array, body: PeekedBody, call: OnPremPassThrough): Promise<Response> {
  const { env, target, signal } = call;
  const provider = `on-prem model ${target.model}`;
  const namespace = env.ONPREM_MODELS!;
  const stub = namespace.get(namespace.idFromName(target.model)) as unknown as DurableObjectStub<OnPremModel>;
  // A stub call carries no signal: the client going away cancels by token.
  const token = crypto.randomUUID();
  const onClientGone = () => void stub.cancelCall(token).catch(() => {});
  if (signal.aborted) onClientGone();
  else signal.addEventListener('abort', onClientGone, { once: true });
  let answer: TunnelAnswer;
  try {
    answer = await stub.call(payload, target.model, Boolean(call.meter), token);
  } catch (error) {
    throw upstreamNetworkError(provider, error);
  }
  call.meter?.servedOnPrem(target, call.deploymentLabel, answer.headers[USAGE_ADDED_HEADER] === '1');
  if (answer.status < 200 || answer.status > 299 || !answer.body) {
    const response = new Response(answer.body, { status: answer.status, headers: answer.headers });
    if (!response.ok) return answerError(response, body, call);
    throw upstreamNetworkError(provider, new Error('empty response'));
  }
  const headers = new Headers(routingHeaders(call.deploymentLabel, 1));
  // The engine's answer says whether it streams: the request's "stream" may come after 20 MB of messages.
  if ((answer.headers['content-type'] ?? '').includes('text/event-stream')) {
    const stream = answer.body instanceof ReadableStream ? answer.body : new Response(answer.body).body!;
    headers.set('content-type', 'text/event-stream; charset=utf-8');
    headers.set('cache-control', 'no-cache');
    return new Response(pipeSseStream(stream, provider, call.streamIdleTimeoutMs), { headers });
  }
  headers.set('content-type', 'application/json');
  // A large answer arrives as a stream: the meter taps that one on its way out.
  if (call.meter && answer.body instanceof Uint8Array) call.meter.answeredWhole(utf8.decode(answer.body));
  return new Response(answer.body, { headers });
}

/** The body's head with its model value replaced (an alias resolved to the name the engine serves). */
function withModel(body: PeekedBody, model: string): Uint8Array {
  if (body.valueStart < 0) return body.head;
  const value = new TextEncoder().encode(JSON.stringify(model));
  const out = new Uint8Array(body.head.byteLength - (body.valueEnd - body.valueStart) + value.byteLength);
  out.set(body.head.subarray(0, body.valueStart), 0);
  out.set(value, body.valueStart);
  out.set(body.head.subarray(body.valueEnd), body.valueStart + value.byteLength);
  return out;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
