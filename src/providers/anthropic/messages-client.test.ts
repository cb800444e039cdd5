import { BaseAnthropic } from '@anthropic-ai/sdk/client';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk/core/error';
import { describe, expect, it } from 'vitest';
import { MessagesClient } from './messages-client';

// MessagesClient does the fetch itself: what it sends, and the errors it throws, must be
// what the SDK's own `post` sends and throws for the same upstream answers.

interface Sent {
  url: string;
  method: string;
  headers: [string, string][];
  body: string;
}

/** A fetch that records each request and answers with `answer()` (or throws what it throws). */
function recordingFetch(answer: (init: RequestInit) => Response | Promise<Response>) {
  const sent: Sent[] = [];
  const fetch = async (url: unknown, init: RequestInit = {}) => {
    sent.push({
      url: String(url),
      method: String(init.method),
      headers: [...new Headers(init.headers)].sort(([a], [b]) => a.localeCompare(b)),
      body: String(init.body),
    });
    return answer(init);
  };
  return { sent, fetch };
}

const OPTIONS = { apiKey: 'sk-ant-test', baseURL: 'http://upstream.test', timeout: 600_000, openTelemetry: false } as const;
const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', ...headers } });

/** The same answer through the SDK's post and through MessagesClient: what each sent and what each resolved or threw. */
async function bothWays(answer: () => Response, headers: Record<string, string>) {
  const viaSdk = recordingFetch(answer);
  const viaOurs = recordingFetch(answer);
  const sdk = new BaseAnthropic({ ...OPTIONS, maxRetries: 0, fetch: viaSdk.fetch });
  const ours = new MessagesClient({ ...OPTIONS, fetch: viaOurs.fetch });
  const settle = (p: Promise<Response>) => p.then((response) => ({ response, error: undefined }), (error: unknown) => ({ response: undefined, error }));
  const sdkResult = await settle(sdk.post('/v1/messages', { body, headers }).asResponse());
  const ourResult = await settle(ours.postMessages(body, headers, new AbortController()));
  return { sdk: { ...sdkResult, sent: viaSdk.sent }, ours: { ...ourResult, sent: viaOurs.sent } };
}

const describeError = (error: unknown) => {
  if (!(error instanceof Error)) return error;
  const api = error as APIError;
  return { class: error.constructor.name, message: error.message, status: api.status, error: api.error, type: api.type, retryAfter: api.headers?.get('retry-after') ?? null };
};

describe('MessagesClient', () => {
  const headerSets: [string, Record<string, string>][] = [
    ['the SDK’s API version', { 'content-type': 'application/json' }],
    ['the legacy anthropic-version', { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }],
  ];
  for (const [name, headers] of headerSets) {
    it(`sends what the SDK's post sends, on the first and later calls (${name})`, async () => {
      for (let i = 0; i < 2; i++) {
        const { sdk, ours } = await bothWays(() => json(200, { type: 'message' }), headers);
        expect(ours.sent).toEqual(sdk.sent);
        expect(ours.sent[0].url).toBe('http://upstream.test/v1/messages');
        expect(ours.sent[0].body).toBe(body);
        expect(await ours.response!.json()).toEqual({ type: 'message' });
      }
    });
  }

  it('keeps the requests of different per-call headers apart', async () => {
    const { sent, fetch } = recordingFetch(() => json(200, {}));
    const client = new MessagesClient({ ...OPTIONS, fetch });
    await client.postMessages(body, headerSets[0][1], new AbortController());
    await client.postMessages(body, headerSets[1][1], new AbortController());
    await client.postMessages(body, headerSets[0][1], new AbortController());
    const version = (s: Sent) => s.headers.find(([n]) => n === 'anthropic-version')?.[1];
    expect(version(sent[1])).toBe('2023-06-01');
    expect(version(sent[0])).toBe(version(sent[2]));
    expect(version(sent[0])).not.toBe('2023-06-01');
  });

  const answers: [string, () => Response][] = [
    ['400 with Anthropic’s error body', () => json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } })],
    ['401', () => json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } })],
    ['429 with retry-after', () => json(429, { type: 'error', error: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' } }, { 'retry-after': '7' })],
    ['529 overloaded', () => json(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })],
    ['500 with an HTML page', () => new Response('<html><body>Bad gateway</body></html>', { status: 500, headers: { 'content-type': 'text/html' } })],
    ['503 with an empty body', () => new Response(null, { status: 503 })],
  ];
  for (const [name, answer] of answers) {
    it(`throws the SDK's error for a ${name}`, async () => {
      const { sdk, ours } = await bothWays(answer, headerSets[0][1]);
      expect(ours.error).toBeInstanceOf(APIError);
      expect(describeError(ours.error)).toEqual(describeError(sdk.error));
    });
  }

  it('throws APIConnectionError, with the cause, when the fetch fails', async () => {
    const { sdk, ours } = await bothWays(() => {
      throw new TypeError('fetch failed: connection refused');
    }, headerSets[0][1]);
    expect(ours.error).toBeInstanceOf(APIConnectionError);
    expect(sdk.error).toBeInstanceOf(APIConnectionError);
    expect(((ours.error as APIConnectionError).cause as Error).message).toBe('fetch failed: connection refused');
  });

  it('throws APIUserAbortError when the caller aborts, before or during the call', async () => {
    const before = new AbortController();
    before.abort();
    const idle = recordingFetch(() => json(200, {}));
    await expect(new MessagesClient({ ...OPTIONS, fetch: idle.fetch }).postMessages(body, headerSets[0][1], before)).rejects.toBeInstanceOf(APIUserAbortError);
    expect(idle.sent).toHaveLength(0);

    const during = new AbortController();
    const hanging = recordingFetch(
      (init) => new Promise<Response>((_, reject) => init.signal!.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError')))),
    );
    const call = new MessagesClient({ ...OPTIONS, fetch: hanging.fetch }).postMessages(body, headerSets[0][1], during);
    setTimeout(() => during.abort(), 5);
    await expect(call).rejects.toBeInstanceOf(APIUserAbortError);
  });

  it('throws APIConnectionTimeoutError, and aborts the calls, when no response head comes in time', async () => {
    const hanging = recordingFetch(
      (init) => new Promise<Response>((_, reject) => init.signal!.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError')))),
    );
    const calls = new AbortController();
    const call = new MessagesClient({ ...OPTIONS, timeout: 20, fetch: hanging.fetch }).postMessages(body, headerSets[0][1], calls);
    await expect(call).rejects.toBeInstanceOf(APIConnectionTimeoutError);
    expect(calls.signal.aborted).toBe(true);
  });
});
