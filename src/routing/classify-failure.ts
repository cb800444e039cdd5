import type { GatewayError } from '../openai/errors';

/**
 * What a failed attempt means for the next one:
 * - `retry`: the upstream's trouble (429, 408/409, 5xx, 529, unreachable, timed out); this
 *   deployment may be tried again, after a backoff
 * - `next_deployment`: this deployment cannot serve it (its credentials are rejected or
 *   missing) but another may; never retried here
 * - `final`: the answer for the client (its own mistake, a 4xx): no retry, no fallback
 */
export type FailureVerdict = 'retry' | 'next_deployment' | 'final';

export interface ClassifiedFailure {
  verdict: FailureVerdict;
  /** From the upstream's retry-after / retry-after-ms / Gemini RetryInfo, as mapped into the error's retry-after-ms (exact) or retry-after (whole seconds) header. */
  retryAfterMs?: number;
}

const NEXT_DEPLOYMENT_CODES = new Set(['upstream_auth_failed', 'provider_not_configured']);

export function classifyFailure(error: GatewayError): ClassifiedFailure {
  const retryAfterMs = retryAfterMsOf(error.headers);
  const withRetryAfter = (verdict: FailureVerdict): ClassifiedFailure => (retryAfterMs === undefined ? { verdict } : { verdict, retryAfterMs });
  if (error.code && NEXT_DEPLOYMENT_CODES.has(error.code)) return { verdict: 'next_deployment' };
  // The gateway's own configuration is wrong: the operator must see it, not a retry loop.
  if (error.code === 'gateway_misconfigured' || error.code === 'internal_error') return { verdict: 'final' };
  if (error.status === 429 || error.status === 408 || error.status === 409) return withRetryAfter('retry');
  if (error.status >= 500) return withRetryAfter('retry');
  return { verdict: 'final' };
}

/** The exact wait when the mapping kept it (retry-after-ms), else whole seconds (retry-after). */
function retryAfterMsOf(headers: Record<string, string>): number | undefined {
  const ms = nonNegative(headers['retry-after-ms']);
  if (ms !== undefined) return ms;
  const seconds = nonNegative(headers['retry-after']);
  return seconds === undefined ? undefined : seconds * 1000;
}

const nonNegative = (value: string | undefined) => (value !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : undefined);
