import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import { upstreamHttpError, upstreamNetworkError } from '../providers/upstream-error';
import { classifyFailure } from './classify-failure';

// The upstream's condition, as the providers map it, → what the router does next.
describe('classifyFailure', () => {
  const cases: [name: string, error: GatewayError, expected: ReturnType<typeof classifyFailure>][] = [
    ['429 with retry-after', upstreamHttpError('OpenAI', 429, 'slow down', 7), { verdict: 'retry', retryAfterMs: 7000 }],
    ['429 with retry-after-ms: the exact wait, not the whole seconds the client header shows', upstreamHttpError('OpenAI', 429, 'slow down', 0.25), { verdict: 'retry', retryAfterMs: 250 }],
    ['429 with Gemini RetryInfo 34.4 s', upstreamHttpError('Gemini', 429, 'quota', 34.4), { verdict: 'retry', retryAfterMs: 34400 }],
    ['429 with retry-after 0', upstreamHttpError('OpenAI', 429, 'slow down', 0), { verdict: 'retry', retryAfterMs: 0 }],
    ['only retry-after (an error built without the exact wait)', new GatewayError(429, 'x', 'rate_limit_error', null, 'rate_limit_exceeded', { 'retry-after': '3' }), { verdict: 'retry', retryAfterMs: 3000 }],
    ['retry-after-ms wins over retry-after', new GatewayError(429, 'x', 'rate_limit_error', null, 'rate_limit_exceeded', { 'retry-after': '1', 'retry-after-ms': '120' }), { verdict: 'retry', retryAfterMs: 120 }],
    ['unreadable retry-after-ms: retry-after', new GatewayError(429, 'x', 'rate_limit_error', null, 'rate_limit_exceeded', { 'retry-after': '2', 'retry-after-ms': 'soon' }), { verdict: 'retry', retryAfterMs: 2000 }],
    ['empty or negative values are no wait asked', new GatewayError(429, 'x', 'rate_limit_error', null, 'rate_limit_exceeded', { 'retry-after': '', 'retry-after-ms': '-5' }), { verdict: 'retry' }],
    ['429 without retry-after', upstreamHttpError('OpenAI', 429, 'slow down'), { verdict: 'retry' }],
    ['Anthropic 529 overloaded (→ 503)', upstreamHttpError('Anthropic', 529, 'Overloaded'), { verdict: 'retry' }],
    ['503', upstreamHttpError('Gemini', 503, 'The model is overloaded'), { verdict: 'retry' }],
    ['500', upstreamHttpError('OpenAI', 500, 'oops'), { verdict: 'retry' }],
    ['502', upstreamHttpError('OpenAI', 502, undefined), { verdict: 'retry' }],
    ['504', upstreamHttpError('OpenAI', 504, undefined), { verdict: 'retry' }],
    ['408 request timeout (→ 504)', upstreamHttpError('OpenAI', 408, undefined), { verdict: 'retry' }],
    ['409 conflict', upstreamHttpError('OpenAI', 409, 'busy'), { verdict: 'retry' }],
    ['connection refused', upstreamNetworkError('OpenAI', new Error('ECONNREFUSED')), { verdict: 'retry' }],
    ['stream truncated before its first byte', new GatewayError(502, 'x ended the stream', 'upstream_error', null, 'upstream_stream_truncated'), { verdict: 'retry' }],
    ['rejected gateway credentials: another deployment may have good ones', upstreamHttpError('Azure', 401, 'denied'), { verdict: 'next_deployment' }],
    ['403 likewise', upstreamHttpError('Azure', 403, 'denied'), { verdict: 'next_deployment' }],
    ['provider not configured', new GatewayError(503, 'no key', 'server_error', 'model', 'provider_not_configured'), { verdict: 'next_deployment' }],
    ['400: the client’s mistake', upstreamHttpError('OpenAI', 400, 'bad'), { verdict: 'final' }],
    ['404', upstreamHttpError('OpenAI', 404, 'no such model'), { verdict: 'final' }],
    ['413', upstreamHttpError('OpenAI', 413, 'too big'), { verdict: 'final' }],
    ['422', upstreamHttpError('OpenAI', 422, 'bad'), { verdict: 'final' }],
    ['Gemini content filter 400', new GatewayError(400, 'blocked', 'invalid_request_error', 'messages', 'content_filter'), { verdict: 'final' }],
    ['gateway misconfigured', new GatewayError(500, 'Gateway configuration error: x', 'server_error', null, 'gateway_misconfigured'), { verdict: 'final' }],
  ];
  it.each(cases)('%s', (_name, error, expected) => expect(classifyFailure(error)).toEqual(expected));
});
