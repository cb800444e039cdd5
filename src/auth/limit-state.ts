import type { KeyLimits } from './admin-requests';

// The bookkeeping of one key's limits, kept by its Durable Object (auth/key-limiter.ts),
// which runs admissions one at a time: that is what makes them exact under concurrency.
// Windows slide over the last minute (a request or a token counts for 60 s after it
// happened); spend is per calendar month, UTC. Pure: the caller passes the time.

export const WINDOW_MS = 60_000;
/** A lease never released (its Worker died mid-request) stops holding a concurrency slot after this long. */
export const LEASE_MAX_MS = 15 * 60_000;

export interface LimitState {
  /** Admission times within the window, oldest first. */
  requests: number[];
  /** Tokens counted (when each response ended) within the window, oldest first. */
  tokens: { at: number; n: number }[];
  /** Requests in flight: lease id → admission time. */
  inFlight: Map<string, number>;
  /** 'YYYY-MM' (UTC) that spentUsd belongs to. */
  month: string;
  spentUsd: number;
}

export const newLimitState = (month: string, spentUsd = 0): LimitState => ({ requests: [], tokens: [], inFlight: new Map(), month, spentUsd });

export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

/** Start of the next calendar month (UTC), in ms. */
export function nextMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Why a request was refused, as OpenAI says it (error type / code), and when to come back. */
export interface Refusal {
  message: string;
  type: 'requests' | 'tokens' | 'insufficient_quota';
  code: 'rate_limit_exceeded' | 'concurrency_limit_exceeded' | 'budget_exceeded';
  retryAfterMs: number;
}

export type Admission = { ok: true; headers: Record<string, string> } | { ok: false; refusal: Refusal; headers: Record<string, string> };

/** OpenAI's duration format for x-ratelimit-reset-*: "250ms", "1.5s", "6m0s". */
export function formatDuration(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 1000) return `${whole}ms`;
  if (whole < 60_000) return `${Number((whole / 1000).toFixed(3))}s`;
  const minutes = Math.floor(whole / 60_000);
  return `${minutes}m${Math.ceil((whole - minutes * 60_000) / 1000)}s`;
}

function prune(state: LimitState, now: number): void {
  const since = now - WINDOW_MS;
  let r = 0;
  while (r < state.requests.length && state.requests[r] <= since) r++;
  if (r) state.requests.splice(0, r);
  let t = 0;
  while (t < state.tokens.length && state.tokens[t].at <= since) t++;
  if (t) state.tokens.splice(0, t);
  for (const [lease, at] of state.inFlight) if (at <= now - LEASE_MAX_MS) state.inFlight.delete(lease);
  const month = monthOf(now);
  if (month !== state.month) {
    state.month = month;
    state.spentUsd = 0;
  }
}

const tokensUsed = (state: LimitState) => state.tokens.reduce((sum, e) => sum + e.n, 0);

/** How long until the tokens counted in the window drop below `limit`. */
function tokensResetMs(state: LimitState, limit: number, now: number): number {
  let used = tokensUsed(state);
  for (const e of state.tokens) {
    if (used < limit) break;
    used -= e.n;
    if (used < limit) return e.at + WINDOW_MS - now;
  }
  return 0;
}

/** The x-ratelimit-* headers (OpenAI's names) for the limits that are set, after this request. */
export function rateLimitHeaders(state: LimitState, limits: KeyLimits, now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  if (limits.rpm !== null) {
    headers['x-ratelimit-limit-requests'] = String(limits.rpm);
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, limits.rpm - state.requests.length));
    // Until the window frees its next slot.
    headers['x-ratelimit-reset-requests'] = formatDuration(state.requests.length ? state.requests[0] + WINDOW_MS - now : 0);
  }
  if (limits.tpm !== null) {
    const used = tokensUsed(state);
    headers['x-ratelimit-limit-tokens'] = String(limits.tpm);
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, limits.tpm - used));
    headers['x-ratelimit-reset-tokens'] = formatDuration(used >= limits.tpm ? tokensResetMs(state, limits.tpm, now) : state.tokens.length ? state.tokens[0].at + WINDOW_MS - now : 0);
  }
  return headers;
}

/**
 * Admits a request (counting it, holding a concurrency slot under `lease`) or says why not.
 * Checked in order: budget, concurrency, requests per minute, tokens per minute. Tokens
 * are known only when a response ends, so a key under its tpm is admitted and the
 * response's real usage counts against the next minute.
 */
export function admit(state: LimitState, limits: KeyLimits, lease: string, now: number): Admission {
  prune(state, now);
  const refuse = (refusal: Refusal): Admission => ({ ok: false, refusal, headers: rateLimitHeaders(state, limits, now) });

  if (limits.budget_usd !== null && state.spentUsd >= limits.budget_usd) {
    return refuse({
      message: `This gateway key's monthly budget of $${limits.budget_usd} is spent ($${state.spentUsd.toFixed(4)} used in ${state.month}); it renews at the start of next month (UTC). Ask the gateway's admin to raise it.`,
      type: 'insufficient_quota',
      code: 'budget_exceeded',
      retryAfterMs: nextMonthStart(now) - now,
    });
  }
  if (limits.max_concurrent !== null && state.inFlight.size >= limits.max_concurrent) {
    return refuse({
      message: `Rate limit reached for this gateway key on concurrent requests: Limit ${limits.max_concurrent}, In flight ${state.inFlight.size}. Please try again when one of them has finished.`,
      type: 'requests',
      code: 'concurrency_limit_exceeded',
      retryAfterMs: 1000,
    });
  }
  if (limits.rpm !== null && state.requests.length >= limits.rpm) {
    const wait = state.requests[state.requests.length - limits.rpm] + WINDOW_MS - now;
    return refuse({
      message: `Rate limit reached for this gateway key on requests per min (RPM): Limit ${limits.rpm}, Used ${state.requests.length}, Requested 1. Please try again in ${formatDuration(wait)}.`,
      type: 'requests',
      code: 'rate_limit_exceeded',
      retryAfterMs: wait,
    });
  }
  if (limits.tpm !== null) {
    const used = tokensUsed(state);
    if (used >= limits.tpm) {
      const wait = tokensResetMs(state, limits.tpm, now);
      return refuse({
        message: `Rate limit reached for this gateway key on tokens per min (TPM): Limit ${limits.tpm}, Used ${used}. Please try again in ${formatDuration(wait)}.`,
        type: 'tokens',
        code: 'rate_limit_exceeded',
        retryAfterMs: wait,
      });
    }
  }
  state.requests.push(now);
  state.inFlight.set(lease, now);
  return { ok: true, headers: rateLimitHeaders(state, limits, now) };
}

/**
 * A request ended: its slot is free, its tokens count for the next minute, its cost
 * against the month (the caller releases each lease once). False if the lease was
 * unknown (already expired, or the object restarted); its usage still counts.
 */
export function release(state: LimitState, lease: string, tokens: number, costUsd: number, now: number): boolean {
  prune(state, now);
  if (tokens > 0) state.tokens.push({ at: now, n: tokens });
  if (costUsd > 0) state.spentUsd += costUsd;
  return state.inFlight.delete(lease);
}
