import { GatewayError } from '../../openai/errors';
import { redactSecrets, retryAfterSeconds, upstreamHttpError } from '../upstream-error';
import type { GoogleApiError } from './types';

// Google API errors (`{"error":{"code","message","status","details"}}`) → what the
// client sees, through upstreamHttpError: a 400 keeps Gemini's message; 429 gets
// retry-after from the RetryInfo detail ("34.4s" → 35); a key Gemini rejects is
// the gateway's problem (502, key never echoed) — including Gemini's way of saying
// so, 400 INVALID_ARGUMENT "API key not valid" with reason API_KEY_INVALID.

const PROVIDER = 'Gemini';

/** An HTTP error response from Gemini. The streaming endpoint without alt=sse wraps it in an array. */
export function geminiHttpError(status: number, bodyText: string, headers: Headers | null, secrets: (string | undefined)[]): GatewayError {
  let error: GoogleApiError | undefined;
  let plain: string | undefined;
  try {
    const body = JSON.parse(bodyText);
    error = (Array.isArray(body) ? body[0] : body)?.error;
  } catch {
    // Not JSON (an HTML page from a proxy or Google's front end): a short text excerpt.
    plain = bodyText.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) || undefined;
  }
  return googleApiError(status, error, secrets, retryAfterSeconds(headers), plain);
}

export function googleApiError(
  status: number,
  error: GoogleApiError | undefined,
  secrets: (string | undefined)[],
  headerRetryAfter: number | null = null,
  fallbackMessage?: string,
): GatewayError {
  const raw = typeof error?.message === 'string' ? error.message : fallbackMessage;
  const message = raw ? redactSecrets(raw, secrets) : undefined;
  const keyReason = credentialReason(error);
  if (status === 401 || status === 403 || keyReason) {
    const mapped = upstreamHttpError(PROVIDER, 401, undefined);
    const said = [status, error?.status, keyReason].filter(Boolean).join(' ');
    return new GatewayError(mapped.status, mapped.message.replace('HTTP 401', `HTTP ${said}`), mapped.type, mapped.param, mapped.code);
  }
  return upstreamHttpError(PROVIDER, status, message, retryDelaySeconds(error) ?? headerRetryAfter);
}

/** The ErrorInfo reason that says the API key itself is bad (API_KEY_INVALID, API_KEY_EXPIRED, …), if any. */
function credentialReason(error: GoogleApiError | undefined): string | undefined {
  for (const detail of error?.details ?? []) {
    if (typeof detail.reason === 'string' && detail.reason.startsWith('API_KEY_')) return detail.reason;
  }
  return typeof error?.message === 'string' && /\bAPI key (not valid|not found|expired)/i.test(error.message) ? 'API_KEY_INVALID' : undefined;
}

/** RetryInfo.retryDelay, a protobuf Duration in JSON ("34.4s"), in seconds. */
export function retryDelaySeconds(error: GoogleApiError | undefined): number | null {
  for (const detail of error?.details ?? []) {
    if (!String(detail['@type'] ?? '').endsWith('google.rpc.RetryInfo')) continue;
    const match = /^(\d+(?:\.\d+)?)s$/.exec(String(detail.retryDelay ?? ''));
    if (match) return Number(match[1]);
  }
  return null;
}
