import type { Context, MiddlewareHandler } from 'hono';
import type { KeyLimits } from '../auth/admin-requests';
import type { AdmitMessage, ReleaseMessage } from '../auth/key-limiter';
import type { Admission } from '../auth/limit-state';
import type { AppEnv } from '../env';
import { addUsageForAccounting, type StreamEnd } from '../openai/chunk-stream';
import { errorResponse, GatewayError } from '../openai/errors';
import type { ChatCompletion, ChatCompletionRequest, Usage } from '../openai/types';
import type { ProviderResult } from '../providers/provider';
import type { Target } from '../routing/catalog';
import { cost, parsePrices, priceFor, type PriceTable } from './prices';
import { recordUsage, usageTableAvailable } from './usage-store';
import { lastUsageIn } from './usage-in-text';
import { tapUsage } from './usage-tap';

// Per-key policy and usage accounting around POST /v1/chat/completions (a middleware):
// - a key with limits is admitted by its Durable Object (auth/key-limiter.ts) before the
//   handler runs, and released when its response — or stream — ends, fails or is abandoned;
// - with a DB bound, every request is recorded in the usage table after the response
//   (waitUntil), with its tokens and cost: a translated stream reports them as it ends
//   (ProviderResult.ended), any other body is tapped (usage-tap.ts).
// Requests with neither (GATEWAY_KEYS keys without a DB) pass straight through: no object,
// no wrapper, no per-chunk work. The handler tells the meter two things: the parsed request
// (begin) and the deployment that answered (served).

export const hasLimits = (l: KeyLimits) => l.rpm !== null || l.tpm !== null || l.max_concurrent !== null || l.budget_usd !== null;

let lastPrices: { value: unknown; table: PriceTable } | undefined;
function priceTable(value: unknown): PriceTable {
  if (lastPrices && lastPrices.value === value) return lastPrices.table;
  const { table, problems } = parsePrices(value);
  for (const problem of problems) console.warn(`price table: ${problem}; ignored`);
  lastPrices = { value, table };
  return table;
}

/** The usage of a translated answer, in the shape lastUsageIn gives (cached tokens only among the details). */
function usageOf(body: ChatCompletion): Usage | null {
  const u = body.usage;
  if (!u) return null;
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  return { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens, ...(cached ? { prompt_tokens_details: { cached_tokens: cached } } : {}) };
}

export class Meter {
  private model: string | null = null;
  private streamed = false;
  /** The gateway asked the upstream for the usage chunk; the client did not, so it is taken out. */
  private strip = false;
  private target?: Target;
  private deploymentLabel: string | null = null;
  private lease?: { stub: DurableObjectStub; id: string; keyId: string };
  private rateHeaders: Record<string, string> = {};
  private settled = false;
  /** Usage of a non-streamed answer (undefined: not known yet, the body will be tapped). */
  private answerUsage?: Usage | null;
  /** How a translated stream ended, as its provider reports it (providers/provider.ts). */
  private streamEnd?: Promise<StreamEnd>;
  private readonly createdAt: string;

  constructor(
    private readonly c: Context<AppEnv>,
    private readonly started: number,
    /** Record the request in the usage table. */
    private readonly accounting: boolean,
  ) {
    this.createdAt = new Date(started).toISOString();
  }

  /** The parsed request; a stream is asked for its usage chunk when the client did not ask for it. */
  begin(request: ChatCompletionRequest): void {
    this.model = request.model;
    this.streamed = request.stream === true;
    if (this.streamed && request.stream_options?.include_usage !== true) {
      addUsageForAccounting(request);
      this.strip = true;
    }
  }

  /** The model asked for, on the on-prem pass-through path (which never parses the whole request). */
  named(model: string): void {
    this.model = model;
  }

  /** The deployment that answered (its provider model prices the usage), and its answer. */
  served(target: Target, label: string, result: ProviderResult): void {
    this.target = target;
    this.deploymentLabel = label;
    // A whole answer is in memory already: its usage is read here, and its body needs no tap.
    if (!result.stream) this.answerUsage = typeof result.body === 'string' ? lastUsageIn(result.body) : usageOf(result.body);
    // A translated stream reports its end and usage itself: its body needs no tap either.
    else this.streamEnd = result.ended;
  }

  /**
   * The on-prem deployment that answered, on the pass-through path (providers/onprem/pass-through.ts):
   * its usage is read from the body as it goes to the client; `usageAdded`: the agent asked the
   * engine for a stream's usage chunk the client did not ask for, so it is taken out.
   */
  servedOnPrem(target: Target, label: string, usageAdded: boolean): void {
    this.target = target;
    this.deploymentLabel = label;
    this.strip = usageAdded;
  }

  /** An on-prem answer that is whole (not a stream) and in memory already: its usage is read here, and its body needs no tap. */
  answeredWhole(body: string): void {
    this.answerUsage = lastUsageIn(body);
  }

  /** Admission by the key's Durable Object; a refusal is the 429 response. */
  async admit(keyId: string, limits: KeyLimits, namespace: DurableObjectNamespace): Promise<Response | null> {
    const stub = namespace.get(namespace.idFromName(keyId));
    const lease = crypto.randomUUID();
    const message: AdmitMessage = { keyId, limits, lease };
    const res = await stub.fetch('https://key-limiter/admit', { method: 'POST', body: JSON.stringify(message) });
    const admission = (await res.json()) as Admission;
    this.rateHeaders = admission.headers;
    if (admission.ok) {
      this.lease = { stub, id: lease, keyId };
      return null;
    }
    const { refusal } = admission;
    const error = new GatewayError(429, refusal.message, refusal.type, null, refusal.code, {
      ...admission.headers,
      'retry-after': String(Math.max(1, Math.ceil(refusal.retryAfterMs / 1000))),
    });
    this.settle(429, null, refusal.code);
    return errorResponse(error);
  }

  /** The handler's response: errors are recorded now; a body is tapped and recorded when it ends. */
  finish(res: Response, error: unknown): Response {
    if (this.settled) return res;
    if (res.status >= 400 || !res.body) {
      const code = error instanceof GatewayError ? (error.code ?? error.type) : res.status >= 500 ? 'internal_error' : null;
      this.settle(res.status, null, res.status >= 400 ? (code ?? `http_${res.status}`) : null);
      return this.withRateHeaders(res, res.body);
    }
    if (this.answerUsage !== undefined) {
      this.settle(res.status, this.answerUsage, null);
      return this.withRateHeaders(res, res.body);
    }
    const streamed = this.streamed || (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
    this.streamed = streamed;
    const onEnd = (end: StreamEnd) =>
      end.outcome === 'cancelled'
        ? this.settle(499, end.usage, 'client_closed_request')
        : end.outcome === 'errored'
          ? this.settle(502, end.usage, 'stream_failed')
          : this.settle(res.status, end.usage, end.errorChunk ? 'stream_error' : null);
    if (this.streamEnd) {
      void this.streamEnd.then(onEnd);
      return this.withRateHeaders(res, res.body);
    }
    return this.withRateHeaders(res, tapUsage(res.body, { strip: streamed && this.strip, onEnd, clientSignal: this.c.req.raw.signal }));
  }

  private withRateHeaders(res: Response, body: ReadableStream<Uint8Array> | null): Response {
    if (body === res.body && Object.keys(this.rateHeaders).length === 0) return res;
    const headers = new Headers(res.headers);
    for (const [name, value] of Object.entries(this.rateHeaders)) if (!headers.has(name)) headers.set(name, value);
    return new Response(body, { status: res.status, statusText: res.statusText, headers });
  }

  /** Once per request: release the key's slot with the real usage, record the row; both in the background. */
  private settle(status: number, usage: Usage | null, errorType: string | null): void {
    if (this.settled) return;
    this.settled = true;
    const latencyMs = Date.now() - this.started;
    const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
    const price = this.target && usage ? priceFor(this.target.provider, this.target.model, priceTable(this.c.env.PRICES)) : null;
    const usd = usage && price ? cost(usage, price) : 0;
    const note = usage && this.target && !price ? `no price for ${this.target.provider}/${this.target.model}: cost recorded as 0` : null;
    const waitUntil = (promise: Promise<unknown>) => {
      try {
        this.c.executionCtx.waitUntil(promise);
      } catch {
        // No execution context (unit tests of the app): the promise still runs.
      }
    };
    if (this.lease) {
      const message: ReleaseMessage = { keyId: this.lease.keyId, lease: this.lease.id, tokens: usage ? usage.prompt_tokens + usage.completion_tokens : 0, costUsd: usd };
      waitUntil(
        this.lease.stub
          .fetch('https://key-limiter/release', { method: 'POST', body: JSON.stringify(message) })
          .then((r) => r.body?.cancel())
          .catch((error) => console.error('releasing a key limit failed:', error instanceof Error ? error.message : String(error))),
      );
    }
    const db = this.c.env.DB;
    if (this.accounting && db) {
      recordUsage(
        db,
        {
          created_at: this.createdAt,
          key_id: this.c.get('gatewayKey')?.id ?? null,
          model: this.model,
          deployment: this.deploymentLabel,
          provider_model: this.target ? `${this.target.provider}/${this.target.model}` : null,
          prompt_tokens: usage?.prompt_tokens ?? 0,
          completion_tokens: usage?.completion_tokens ?? 0,
          cached_tokens: cached,
          cost_usd: usd,
          latency_ms: latencyMs,
          status,
          streamed: this.streamed,
          error_type: errorType,
          note,
        },
        waitUntil,
      );
    }
  }
}

/** The middleware on POST /v1/chat/completions (after the key check). */
export const meterChatCompletions: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.get('gatewayKey');
  const limited = key !== undefined && hasLimits(key.limits);
  const now = Date.now();
  const accounting = c.env.DB !== undefined && usageTableAvailable(now);
  if (!limited && !accounting) return next();
  const meter = new Meter(c, now, accounting);
  c.set('meter', meter);
  if (limited) {
    const namespace = c.env.KEY_LIMITS;
    if (!namespace) {
      return errorResponse(
        new GatewayError(503, 'Gateway configuration error: this key has limits and no Durable Object is bound as "KEY_LIMITS" (wrangler.toml) to enforce them.', 'server_error', null, 'gateway_misconfigured'),
      );
    }
    const refused = await meter.admit(key.id, key.limits, namespace);
    if (refused) return refused;
  }
  try {
    await next();
  } finally {
    const finished = meter.finish(c.res, c.error);
    // Hono's res setter builds a new Response and copies the old one's headers into it: not
    // needed when nothing changed, and a new response (built with those headers) replaces it outright.
    if (finished !== c.res) {
      c.res = undefined;
      c.res = finished;
    }
  }
};
