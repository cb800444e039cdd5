import type { OpenAIErrorObject } from './types';

/**
 * Every failure the gateway reports: an HTTP status plus OpenAI's error object.
 * Thrown anywhere on the request path; the app's error handler turns it into the
 * response (or, once a stream has begun, into a final error chunk).
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers, e.g. `retry-after` on 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  toJSON(): { error: OpenAIErrorObject } {
    return { error: this.toErrorObject() };
  }

  toErrorObject(): OpenAIErrorObject {
    return { message: this.message, type: this.type, param: this.param, code: this.code };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new GatewayError(400, message, 'invalid_request_error', param, code);

export const unauthorized = (message: string) =>
  new GatewayError(401, message, 'authentication_error', null, 'invalid_api_key');

export const modelNotFound = (model: string) =>
  new GatewayError(
    404,
    `The model '${model}' does not exist or is not configured on this gateway. GET /v1/models lists the models you can use.`,
    'invalid_request_error',
    'model',
    'model_not_found',
  );

export const payloadTooLarge = (message: string, param: string | null = null) =>
  new GatewayError(413, message, 'invalid_request_error', param, 'request_too_large');

/** A stream that went quiet after it began (the router's first-byte timeout covers the time before). */
export const streamStalled = (provider: string, idleMs: number) =>
  new GatewayError(504, `${provider} sent nothing for ${idleMs / 1000} s; the stream was abandoned.`, 'upstream_error', null, 'upstream_stalled');

/** `promise`, or `onTimeout()` thrown if it takes longer than `ms` (0: no limit). */
export async function withinMs<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (ms <= 0) return promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms)))]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export function errorResponse(error: GatewayError, extraHeaders?: Record<string, string>): Response {
  return new Response(JSON.stringify(error.toJSON()), {
    status: error.status,
    headers: { 'content-type': 'application/json', ...error.headers, ...extraHeaders },
  });
}
