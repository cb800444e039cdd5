import { describe, expect, it } from 'vitest';
import retryFixture from '../../../../shared/fixtures/recorded/gemini/google-429-retry-info.json';
import { geminiHttpError, googleApiError, retryDelaySeconds } from './gemini-error';

const KEY = 'AIzaSyTEST-0123456789abcdefghijklmnop';
const body = (code: number, status: string, message: string, details?: unknown[]) => JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });
const apiKeyInvalid = body(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
  { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
  { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
  { '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: `Invalid API key: ${KEY}` },
]);

describe('geminiHttpError', () => {
  it.each<[string, number, string, Headers | null, { status: number; code: string | null; type: string; message: RegExp; headers?: Record<string, string> }]>([
    [
      '400 INVALID_ARGUMENT keeps the message',
      400,
      body(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified\n'),
      null,
      { status: 400, code: 'upstream_rejected_request', type: 'invalid_request_error', message: /^Gemini rejected the request: \* GenerateContentRequest\.contents: contents is not specified/ },
    ],
    [
      '400 API_KEY_INVALID is the gateway’s credential problem',
      400,
      apiKeyInvalid,
      null,
      { status: 502, code: 'upstream_auth_failed', type: 'upstream_error', message: /credentials for Gemini were rejected \(HTTP 400 INVALID_ARGUMENT API_KEY_INVALID\)/ },
    ],
    [
      '403 PERMISSION_DENIED',
      403,
      body(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."),
      null,
      { status: 502, code: 'upstream_auth_failed', type: 'upstream_error', message: /HTTP 403 PERMISSION_DENIED/ },
    ],
    [
      '404 NOT_FOUND',
      404,
      body(404, 'NOT_FOUND', 'models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.'),
      null,
      { status: 404, code: 'not_found', type: 'invalid_request_error', message: /models\/gemini-9 is not found/ },
    ],
    [
      '429 with RetryInfo (recorded)',
      429,
      JSON.stringify(retryFixture),
      null,
      { status: 429, code: 'rate_limit_exceeded', type: 'rate_limit_error', message: /You exceeded your current quota/, headers: { 'retry-after': '35' } },
    ],
    [
      '429 with only a retry-after header',
      429,
      body(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'),
      new Headers({ 'retry-after': '7' }),
      { status: 429, code: 'rate_limit_exceeded', type: 'rate_limit_error', message: /exhausted/, headers: { 'retry-after': '7' } },
    ],
    ['500 INTERNAL', 500, body(500, 'INTERNAL', 'An internal error has occurred.'), null, { status: 502, code: 'upstream_error', type: 'upstream_error', message: /internal error/ }],
    ['503 UNAVAILABLE', 503, body(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'), null, { status: 503, code: 'upstream_unavailable', type: 'upstream_error', message: /overloaded/ }],
    ['504 DEADLINE_EXCEEDED', 504, body(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'), null, { status: 504, code: 'upstream_timeout', type: 'upstream_error', message: /Deadline/ }],
    ['an HTML page', 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', null, { status: 502, code: 'upstream_error', type: 'upstream_error', message: /502 Bad Gateway/ }],
    ['an error wrapped in an array', 400, `[${body(400, 'INVALID_ARGUMENT', 'bad thing')}]`, null, { status: 400, code: 'upstream_rejected_request', type: 'invalid_request_error', message: /bad thing/ }],
  ])('%s', (_name, status, text, headers, expected) => {
    const error = geminiHttpError(status, text, headers, [KEY]);
    expect(error).toMatchObject({ status: expected.status, code: expected.code, type: expected.type, headers: expected.headers ?? {} });
    expect(error.message).toMatch(expected.message);
  });

  it('never echoes the key', () => {
    const error = geminiHttpError(400, apiKeyInvalid, null, [KEY]);
    expect(JSON.stringify(error.toJSON())).not.toContain('AIza');
    const echoed = geminiHttpError(400, body(400, 'INVALID_ARGUMENT', `Bad request for key ${KEY}`), null, [KEY]);
    expect(echoed.message).not.toContain(KEY);
  });

  it('maps an error event that arrives inside a stream', () => {
    expect(googleApiError(503, { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' }, [])).toMatchObject({ status: 503, code: 'upstream_unavailable' });
  });
});

describe('retryDelaySeconds', () => {
  it.each<[unknown[], number | null]>([
    [[{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '34.4s' }], 34.4],
    [[{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }], 2],
    [[{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure' }], null],
    [[{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: 'soon' }], null],
    [[], null],
  ])('%j → %s', (details, expected) => {
    expect(retryDelaySeconds({ details: details as never })).toBe(expected);
  });
});
