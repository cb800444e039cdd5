import { GatewayError, badRequest } from '../openai/errors';

/** How one request is retried, fallen back and timed out. Gateway defaults ← `[vars.ROUTING]` ← the alias ← request headers. */
export interface RetryPolicy {
  /** Attempts after the first, over all deployments (a fallback counts as one). */
  retries: number;
  /** Failed attempts on one deployment, within one request, before it falls back to the next. */
  attemptsPerDeployment: number;
  /** The whole request, retries and waits included. */
  budgetMs: number;
  /** A stream whose first byte takes longer is abandoned (→ the next attempt; 504 when none is left). */
  firstByteTimeoutMs: number;
  /** A non-streamed answer taking longer is abandoned; 0: only the budget bounds it (a long generation sends nothing until it is done). */
  responseTimeoutMs: number;
  /** A stream that began and then sends nothing this long is abandoned and ends with an error chunk; 0: never. Translated streams always; pass-through streams where configured. */
  streamIdleTimeoutMs: number;
  /** Exponential backoff with full jitter: a random wait in [0, min(max, base·2^retry)). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** False: stay on the first deployment chosen (x-switchboard-no-fallback). */
  fallback: boolean;
  /** A deployment that failed this many times within the window rests for cooldownMs (shared across requests). */
  cooldownFailures: number;
  cooldownWindowMs: number;
  cooldownMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 4,
  attemptsPerDeployment: 2,
  budgetMs: 120_000,
  firstByteTimeoutMs: 30_000,
  responseTimeoutMs: 0,
  streamIdleTimeoutMs: 60_000,
  backoffBaseMs: 250,
  backoffMaxMs: 8_000,
  fallback: true,
  cooldownFailures: 3,
  cooldownWindowMs: 60_000,
  cooldownMs: 30_000,
};

/** Configuration key (wrangler.toml, snake_case) → policy field, with the smallest value allowed. */
export const POLICY_KEYS = {
  retries: ['retries', 0],
  attempts_per_deployment: ['attemptsPerDeployment', 1],
  budget_ms: ['budgetMs', 1],
  first_byte_timeout_ms: ['firstByteTimeoutMs', 1],
  response_timeout_ms: ['responseTimeoutMs', 0],
  stream_idle_timeout_ms: ['streamIdleTimeoutMs', 0],
  backoff_base_ms: ['backoffBaseMs', 0],
  backoff_max_ms: ['backoffMaxMs', 0],
  cooldown_failures: ['cooldownFailures', 1],
  cooldown_window_ms: ['cooldownWindowMs', 0],
  cooldown_ms: ['cooldownMs', 0],
} as const satisfies Record<string, readonly [keyof RetryPolicy, number]>;
export type PolicyKey = keyof typeof POLICY_KEYS;

export const isPolicyKey = (key: string): key is PolicyKey => Object.hasOwn(POLICY_KEYS, key);

/** The policy fields set in a configuration table (ROUTING, or a MODELS entry); `where` names it in errors. */
export function readPolicyOverrides(table: Record<string, unknown>, where: string): Partial<RetryPolicy> {
  const out: Partial<Record<keyof RetryPolicy, unknown>> = {};
  for (const [key, value] of Object.entries(table)) {
    if (!isPolicyKey(key)) continue;
    const [field, min] = POLICY_KEYS[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (key === 'retries' && !Number.isInteger(value))) {
      throw configError(`${where}.${key} must be a number ≥ ${min}${key === 'retries' ? ' (an integer)' : ''}.`);
    }
    out[field] = value;
  }
  return out as Partial<RetryPolicy>;
}

/** `[vars.ROUTING]`: gateway-wide defaults (a table, or the same as a JSON string). */
export function parseRoutingVar(routing: Record<string, unknown> | string | undefined): Partial<RetryPolicy> {
  if (routing === undefined || routing === '') return {};
  let table: unknown = routing;
  if (typeof routing === 'string') {
    try {
      table = JSON.parse(routing);
    } catch {
      throw configError('ROUTING is not valid JSON.');
    }
  }
  if (typeof table !== 'object' || table === null || Array.isArray(table)) throw configError('ROUTING must be a table (an object).');
  for (const key of Object.keys(table)) {
    if (!isPolicyKey(key)) throw configError(`ROUTING.${key} is not a routing setting (known: ${Object.keys(POLICY_KEYS).join(', ')}).`);
  }
  return readPolicyOverrides(table as Record<string, unknown>, 'ROUTING');
}

const MAX_HEADER_RETRIES = 10;
const MAX_HEADER_TIMEOUT_S = 600;

/**
 * Per-request overrides: `x-switchboard-retries` (0–10), `x-switchboard-timeout` (seconds,
 * the whole request), `x-switchboard-no-fallback` (true / 1). A malformed value is a 400
 * naming the header, not silently ignored.
 */
export function readPolicyHeaders(headers: Headers): Partial<RetryPolicy> {
  const out: Partial<RetryPolicy> = {};
  const retries = headers.get('x-switchboard-retries');
  if (retries !== null) {
    const n = Number(retries.trim());
    if (retries.trim() === '' || !Number.isInteger(n) || n < 0 || n > MAX_HEADER_RETRIES) {
      throw badRequest(`The x-switchboard-retries header must be an integer from 0 to ${MAX_HEADER_RETRIES}.`, 'x-switchboard-retries', 'invalid_header');
    }
    out.retries = n;
  }
  const timeout = headers.get('x-switchboard-timeout');
  if (timeout !== null) {
    const s = Number(timeout.trim());
    if (timeout.trim() === '' || !Number.isFinite(s) || s <= 0 || s > MAX_HEADER_TIMEOUT_S) {
      throw badRequest(`The x-switchboard-timeout header must be a number of seconds, more than 0 and at most ${MAX_HEADER_TIMEOUT_S}.`, 'x-switchboard-timeout', 'invalid_header');
    }
    out.budgetMs = s * 1000;
  }
  const noFallback = headers.get('x-switchboard-no-fallback');
  if (noFallback !== null) {
    const v = noFallback.trim().toLowerCase();
    if (!['true', '1', 'false', '0'].includes(v)) {
      throw badRequest('The x-switchboard-no-fallback header must be true, false, 1 or 0.', 'x-switchboard-no-fallback', 'invalid_header');
    }
    out.fallback = v === 'false' || v === '0';
  }
  return out;
}

export function configError(message: string) {
  return new GatewayError(500, `Gateway configuration error: ${message}`, 'server_error', null, 'gateway_misconfigured');
}
