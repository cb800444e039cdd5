import { APIConnectionError, APIConnectionTimeoutError, APIError, AnthropicError } from '@anthropic-ai/sdk/core/error';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../openai/errors';
import { anthropicErrorToGateway } from './anthropic-error';

const KEY = 'sk-ant-api03-secret-value-123456';
const body = (type: string, message: string) => ({ type: 'error', error: { type, message }, request_id: 'req_1' });
/** What the SDK throws for an HTTP error response. */
const http = (status: number, type: string, message: string, headers: Record<string, string> = {}) =>
  APIError.generate(status, body(type, message), undefined, new Headers(headers));

describe('anthropicErrorToGateway', () => {
  it.each([
    [400, 'invalid_request_error', 'max_tokens: Field required', 400, 'invalid_request_error', 'upstream_rejected_request', true],
    [404, 'not_found_error', 'model: claude-x', 404, 'invalid_request_error', 'not_found', true],
    [413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.', 413, 'invalid_request_error', 'request_too_large', true],
    [401, 'authentication_error', 'invalid x-api-key', 502, 'upstream_error', 'upstream_auth_failed', false],
    [403, 'permission_error', 'Your API key does not have permission', 502, 'upstream_error', 'upstream_auth_failed', false],
    [500, 'api_error', 'Internal server error', 502, 'upstream_error', 'upstream_error', true],
    [529, 'overloaded_error', 'Overloaded', 503, 'upstream_error', 'upstream_unavailable', true],
  ])('HTTP %i %s → %i %s %s', (status, type, message, expectedStatus, expectedType, code, keepsMessage) => {
    const mapped = anthropicErrorToGateway(http(status, type, message), [KEY]);
    expect(mapped).toMatchObject({ status: expectedStatus, type: expectedType, code });
    expect(mapped.message.includes(message)).toBe(keepsMessage);
  });

  it('keeps retry-after on 429', () => {
    const mapped = anthropicErrorToGateway(http(429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', { 'retry-after': '17' }), []);
    expect(mapped).toMatchObject({ status: 429, type: 'rate_limit_error', headers: { 'retry-after': '17' } });
    expect(mapped.message).toContain('per-minute rate limit');
  });

  it('never echoes the key', () => {
    const mapped = anthropicErrorToGateway(http(400, 'invalid_request_error', `bad header value ${KEY}`), [KEY]);
    expect(mapped.message).not.toContain(KEY);
    expect(mapped.message).toContain('[redacted]');
    expect(JSON.stringify(anthropicErrorToGateway(http(401, 'authentication_error', `invalid x-api-key ${KEY}`), [KEY]).toJSON())).not.toContain('secret');
  });

  it.each([
    ['overloaded_error', 503, 'upstream_unavailable'],
    ['api_error', 502, 'upstream_error'],
    ['rate_limit_error', 429, 'rate_limit_exceeded'],
    ['invalid_request_error', 400, 'upstream_rejected_request'],
    ['something_new', 502, 'upstream_error'],
  ])('maps a mid-stream %s event (no status) → %i', (type, status, code) => {
    // As the SDK raises an `event: error` in a stream: no status, the 200's headers.
    const error = new APIError(undefined, body(type, 'Overloaded'), undefined, new Headers({ 'retry-after': '5' }), type as never);
    const mapped = anthropicErrorToGateway(error, []);
    expect(mapped).toMatchObject({ status, code });
    expect(mapped.headers['retry-after']).toBeUndefined();
  });

  it('gives an excerpt of a non-JSON error page', () => {
    const mapped = anthropicErrorToGateway(APIError.generate(502, undefined, '<html><body><h1>502 Bad Gateway</h1></body></html>', new Headers()), []);
    expect(mapped).toMatchObject({ status: 502, code: 'upstream_error' });
    expect(mapped.message).toContain('502 Bad Gateway');
    expect(mapped.message).not.toContain('<h1>');
  });

  it.each([
    [new APIConnectionError({ message: 'Connection error.', cause: new TypeError('fetch failed') }), 502, 'upstream_unreachable'],
    [new APIConnectionTimeoutError(), 504, 'upstream_timeout'],
    [new AnthropicError('Could not parse'), 502, 'upstream_error'],
    [new SyntaxError('Unexpected token'), 502, 'upstream_error'],
    [new TypeError('network'), 502, 'upstream_unreachable'],
  ])('maps %s', (error, status, code) => {
    expect(anthropicErrorToGateway(error, [])).toMatchObject({ status, code });
  });

  it('passes a GatewayError through', () => {
    const e = new GatewayError(418, 'x', 't');
    expect(anthropicErrorToGateway(e, [])).toBe(e);
  });
});
