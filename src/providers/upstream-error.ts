import { GatewayError } from '../openai/errors';

// Maps an upstream failure to what the client should see. The client must be able
// to tell its own mistake (4xx, upstream message kept) from provider trouble (5xx)
// and rate limiting (429 with retry-after). A credential the upstream rejects is the
// gateway's problem, so it becomes a 502 that says so and never echoes the key.

export function upstreamHttpError(
  provider: string,
  status: number,
  upstreamMessage: string | undefined,
  retryAfterSeconds?: number | null,
): GatewayError {
  const said = upstreamMessage ? `: ${upstreamMessage}` : '';
  if (status === 401 || status === 403) {
    return new GatewayError(
      502,
      `The gateway's credentials for ${provider} were rejected (HTTP ${status}). This is a gateway configuration problem, not a problem with your request; tell the gateway operator.`,
      'upstream_error',
      null,
      'upstream_auth_failed',
    );
  }
  if (status === 429) {
    const headers: Record<string, string> = {};
    if (retryAfterSeconds != null && Number.isFinite(retryAfterSeconds)) {
      headers['retry-after'] = String(Math.max(0, Math.ceil(retryAfterSeconds)));
      // retry-after counts whole seconds; the exact wait is kept for the router (and for
      // clients whose SDK reads retry-after-ms, as OpenAI's does).
      headers['retry-after-ms'] = String(Math.max(0, Math.round(retryAfterSeconds * 1000)));
    }
    return new GatewayError(429, `${provider} rate limit reached${said}`, 'rate_limit_error', null, 'rate_limit_exceeded', headers);
  }
  if (status === 408 || status === 504) {
    return new GatewayError(504, `${provider} timed out${said}`, 'upstream_error', null, 'upstream_timeout');
  }
  if (status === 503 || status === 529) {
    return new GatewayError(503, `${provider} is overloaded or unavailable${said}`, 'upstream_error', null, 'upstream_unavailable');
  }
  if (status >= 400 && status < 500) {
    const code = status === 404 ? 'not_found' : status === 413 ? 'request_too_large' : 'upstream_rejected_request';
    return new GatewayError(status, `${provider} rejected the request${said}`, 'invalid_request_error', null, code);
  }
  return new GatewayError(502, `${provider} returned an error (HTTP ${status})${said}`, 'upstream_error', null, 'upstream_error');
}

/** A fetch that failed without an HTTP response (connection refused, reset, DNS). */
export function upstreamNetworkError(provider: string, cause: unknown): GatewayError {
  const detail = cause instanceof Error && cause.message ? ` (${cause.message})` : '';
  return new GatewayError(502, `Could not reach ${provider}${detail}.`, 'upstream_error', null, 'upstream_unreachable');
}

/** Seconds to wait, from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
export function retryAfterSeconds(headers: Headers | undefined | null): number | null {
  if (!headers) return null;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms) / 1000;
  const value = headers.get('retry-after');
  if (!value) return null;
  if (Number.isFinite(Number(value))) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

/** Removes any configured secret that an upstream message might echo back. */
export function redactSecrets(message: string, secrets: (string | undefined)[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret && secret.length >= 8 && out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  // Upstreams echo partial keys too ("Incorrect API key provided: sk-abc***xyz").
  return out.replace(/\b(sk-[A-Za-z0-9_*-]{3,}|AIza[0-9A-Za-z_*-]{10,})/g, '[redacted]');
}
