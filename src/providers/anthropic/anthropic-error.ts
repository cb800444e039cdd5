import { AnthropicError, APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk/core/error';
import { GatewayError } from '../../openai/errors';
import { redactSecrets, retryAfterSeconds, upstreamHttpError, upstreamNetworkError } from '../upstream-error';

// What the Anthropic SDK throws → the GatewayError the client sees. Anthropic's error
// body is {"type":"error","error":{"type":"rate_limit_error","message":"…"}}; the
// status decides the mapping (upstreamHttpError: a 4xx keeps Anthropic's message,
// 401/403 become the gateway's own 502, 529 overloaded a 503). An `error` event in
// a stream that had already begun carries no status, only the error type, which
// stands for the status Anthropic documents for it.

export const PROVIDER_LABEL = 'Anthropic';

const STATUS_BY_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function anthropicErrorToGateway(error: unknown, secrets: (string | undefined)[]): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof APIConnectionTimeoutError) return upstreamHttpError(PROVIDER_LABEL, 504, 'no response in time');
  if (error instanceof APIConnectionError) return upstreamNetworkError(PROVIDER_LABEL, error.cause ?? error);
  if (error instanceof APIError) {
    const fromStream = error.status === undefined;
    const status = error.status ?? STATUS_BY_ERROR_TYPE[error.type ?? ''] ?? 500;
    const message = upstreamMessage(error);
    return upstreamHttpError(
      PROVIDER_LABEL,
      status,
      message && redactSecrets(message, secrets),
      // The headers of a stream's 200 say nothing about when to retry its failure.
      fromStream ? null : retryAfterSeconds(error.headers),
    );
  }
  if (error instanceof AnthropicError || error instanceof SyntaxError) {
    // The SDK failing on its side (e.g. an event that is not JSON).
    return new GatewayError(502, `Unexpected response from ${PROVIDER_LABEL}: ${redactSecrets(error.message, secrets)}`, 'upstream_error', null, 'upstream_error');
  }
  return upstreamNetworkError(PROVIDER_LABEL, error);
}

/** Anthropic's own message, or a short excerpt of a body that was not Anthropic's JSON (a proxy's HTML page). */
function upstreamMessage(error: APIError): string | undefined {
  if (error.apiMessage) return error.apiMessage;
  const body = error.error as { message?: unknown } | string | undefined;
  if (typeof body === 'string') return excerpt(body);
  if (typeof body?.message === 'string') return excerpt(body.message);
  // A body that was not JSON is only in the SDK's message, after the status.
  if (body === undefined && error.status !== undefined) return excerpt(error.message.replace(/^\d{3} /, ''));
  return undefined;
}

const excerpt = (text: string) => text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) || undefined;
