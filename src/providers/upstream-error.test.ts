import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { redactSecrets, retryAfterSeconds, upstreamHttpError, upstreamNetworkError } from './upstream-error';

// Upstream failures → what the client sees: its own mistakes as 4xx with the upstream's
// words, provider trouble as 5xx, rate limits as 429 with retry-after, and no secrets.

describe('upstreamHttpError', () => {
  const cases: [upstream: number, status: number, type: string, code: string][] = [
    [400, 400, 'invalid_request_error', 'upstream_rejected_request'],
    [404, 404, 'invalid_request_error', 'not_found'],
    [413, 413, 'invalid_request_error', 'request_too_large'],
    [422, 422, 'invalid_request_error', 'upstream_rejected_request'],
    [401, 502, 'upstream_error', 'upstream_auth_failed'],
    [403, 502, 'upstream_error', 'upstream_auth_failed'],
    [429, 429, 'rate_limit_error', 'rate_limit_exceeded'],
    [408, 504, 'upstream_error', 'upstream_timeout'],
    [504, 504, 'upstream_error', 'upstream_timeout'],
    [503, 503, 'upstream_error', 'upstream_unavailable'],
    [529, 503, 'upstream_error', 'upstream_unavailable'],
    [500, 502, 'upstream_error', 'upstream_error'],
    [502, 502, 'upstream_error', 'upstream_error'],
    [520, 502, 'upstream_error', 'upstream_error'],
  ];
  it.each(cases)('HTTP %i → %i %s %s', (upstream, status, type, code) => {
    const error = upstreamHttpError('Claude', upstream, 'details from upstream');
    expect({ status: error.status, type: error.type, code: error.code, param: error.param }).toEqual({ status, type, code, param: null });
    expect(error.message).toContain('Claude');
  });

  it('keeps the upstream message for everything but rejected credentials', () => {
    expect(upstreamHttpError('Gemini', 400, 'Invalid JSON payload').message).toBe('Gemini rejected the request: Invalid JSON payload');
    expect(upstreamHttpError('Gemini', 500, 'Internal').message).toContain('(HTTP 500): Internal');
    const auth = upstreamHttpError('OpenAI', 401, 'Incorrect API key provided: sk-abc***wxyz');
    expect(auth.message).not.toContain('sk-');
    expect(auth.message).toContain('gateway');
  });

  it('reads without an upstream message', () => {
    expect(upstreamHttpError('OpenAI', 400, undefined).message).toBe('OpenAI rejected the request');
  });

  const retry: [seconds: number | null | undefined, header: string | undefined][] = [
    [7, '7'],
    [7.2, '8'],
    [0, '0'],
    [0.001, '1'],
    [-3, '0'],
    [null, undefined],
    [undefined, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
  ];
  it.each(retry)('429 with retry after %s s → retry-after %s', (seconds, header) => {
    expect(upstreamHttpError('OpenAI', 429, 'slow down', seconds).headers['retry-after']).toBe(header);
  });

  const exact: [seconds: number | null, header: string | undefined][] = [
    [7, '7000'],
    [0.25, '250'],
    [34.4, '34400'],
    [0.0004, '0'],
    [0, '0'],
    [-3, '0'],
    [null, undefined],
    [Number.NaN, undefined],
  ];
  it.each(exact)('429 with retry after %s s → retry-after-ms %s (the exact wait, for the router and clients that read it)', (seconds, header) => {
    expect(upstreamHttpError('OpenAI', 429, 'slow down', seconds).headers['retry-after-ms']).toBe(header);
  });

  it('sets retry-after only on 429', () => {
    expect(upstreamHttpError('OpenAI', 503, 'busy', 30).headers).toEqual({});
  });
});

describe('upstreamNetworkError', () => {
  it('is a 502 that names the provider and the cause', () => {
    const error = upstreamNetworkError('Azure OpenAI', new TypeError('fetch failed'));
    expect({ status: error.status, type: error.type, code: error.code }).toEqual({ status: 502, type: 'upstream_error', code: 'upstream_unreachable' });
    expect(error.message).toBe('Could not reach Azure OpenAI (fetch failed).');
    expect(upstreamNetworkError('OpenAI', 'weird').message).toBe('Could not reach OpenAI.');
  });
});

describe('retryAfterSeconds', () => {
  const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
  });
  afterEach(() => vi.useRealTimers());

  const cases: [name: string, headers: Record<string, string> | null, expected: number | null][] = [
    ['no headers object', null, null],
    ['no header', {}, null],
    ['seconds', { 'retry-after': '7' }, 7],
    ['zero seconds', { 'retry-after': '0' }, 0],
    ['fractional seconds', { 'retry-after': '1.5' }, 1.5],
    ['milliseconds (OpenAI retry-after-ms)', { 'retry-after-ms': '1500' }, 1.5],
    ['milliseconds win over seconds', { 'retry-after-ms': '250', 'retry-after': '9' }, 0.25],
    ['unreadable milliseconds fall back to seconds', { 'retry-after-ms': 'soon', 'retry-after': '9' }, 9],
    ['an HTTP date 30 s ahead', { 'retry-after': new Date(NOW + 30_000).toUTCString() }, 30],
    ['an HTTP date in the past', { 'retry-after': new Date(NOW - 60_000).toUTCString() }, 0],
    ['garbage', { 'retry-after': 'later' }, null],
  ];
  it.each(cases)('%s', (_name, headers, expected) => {
    expect(retryAfterSeconds(headers && new Headers(headers))).toBe(expected);
  });
});

describe('redactSecrets', () => {
  const KEY = 'sk-proj-abcdefghijklmnop0123456789';
  const AZURE = '0123456789abcdef0123456789abcdef';
  const cases: [name: string, message: string, secrets: (string | undefined)[], expected: string][] = [
    ['a configured key, everywhere', `bad key ${KEY}; again ${KEY}`, [KEY], 'bad key [redacted]; again [redacted]'],
    ['an Azure key (no prefix to recognise)', `key ${AZURE} rejected`, [AZURE], 'key [redacted] rejected'],
    ['a partial OpenAI key as OpenAI echoes it', 'Incorrect API key provided: sk-abc***wxyz. You can find', [], 'Incorrect API key provided: [redacted]. You can find'],
    ['a Google API key', 'API key not valid: AIzaSyA-1234567890abcdefg', [], 'API key not valid: [redacted]'],
    ['undefined and short secrets are skipped', 'the word abc stays', [undefined, 'abc'], 'the word abc stays'],
    ['an innocent message', 'Invalid value for temperature', [KEY, AZURE], 'Invalid value for temperature'],
    ['words that merely contain sk-', 'risk-free task-based desk-top', [], 'risk-free task-based desk-top'],
  ];
  it.each(cases)('%s', (_name, message, secrets, expected) => expect(redactSecrets(message, secrets)).toBe(expected));
});
