import { BaseAnthropic } from '@anthropic-ai/sdk/client';
import { describe, expect, it } from 'vitest';
import { memoizeRequestHeaders } from './anthropic-provider';

// The SDK's headers, built once per client and copied: each request must still carry exactly what the SDK would send.

function recordingClient(memoized: boolean) {
  const sent: Headers[] = [];
  const fetch = async (_url: unknown, init?: RequestInit) => {
    sent.push(init?.headers as Headers);
    return new Response('{}', { headers: { 'content-type': 'application/json' } });
  };
  const client = new BaseAnthropic({ apiKey: 'sk-ant-test', baseURL: 'http://upstream.test', maxRetries: 0, timeout: 600_000, openTelemetry: false, fetch });
  if (memoized) memoizeRequestHeaders(client);
  return { client, sent };
}

const body = { model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] };
const entries = (headers: Headers) => [...headers].sort(([a], [b]) => a.localeCompare(b));

describe('memoizeRequestHeaders', () => {
  const cases: [string, Record<string, string> | undefined][] = [
    ['no per-call headers', undefined],
    ['the legacy anthropic-version', { 'anthropic-version': '2023-06-01' }],
  ];
  for (const [name, headers] of cases) {
    it(`sends what the SDK sends, on the first and later calls (${name})`, async () => {
      const plain = recordingClient(false);
      const memo = recordingClient(true);
      for (let i = 0; i < 3; i++) {
        await plain.client.post('/v1/messages', { body, headers }).asResponse();
        await memo.client.post('/v1/messages', { body, headers }).asResponse();
      }
      for (let i = 0; i < 3; i++) expect(entries(memo.sent[i])).toEqual(entries(plain.sent[i]));
      expect(memo.sent[0].get('x-stainless-retry-count')).toBe('0');
    });
  }

  it('keeps per-call headers apart, and gives each request its own copy', async () => {
    const { client, sent } = recordingClient(true);
    await client.post('/v1/messages', { body }).asResponse();
    sent[0].set('x-mutated', 'yes');
    await client.post('/v1/messages', { body, headers: { 'anthropic-version': '2023-06-01' } }).asResponse();
    await client.post('/v1/messages', { body }).asResponse();
    expect(sent[1].get('anthropic-version')).toBe('2023-06-01');
    expect(sent[2].get('anthropic-version')).not.toBe('2023-06-01');
    expect(sent[1].has('x-mutated')).toBe(false);
    expect(sent[2].has('x-mutated')).toBe(false);
    expect(sent[0]).not.toBe(sent[2]);
  });

  it('leaves per-call headers it cannot key (a Headers object) to the SDK', async () => {
    const { client, sent } = recordingClient(true);
    await client.post('/v1/messages', { body, headers: new Headers({ 'x-one': '1' }) }).asResponse();
    await client.post('/v1/messages', { body, headers: new Headers({ 'x-two': '2' }) }).asResponse();
    expect(sent[0].get('x-one')).toBe('1');
    expect(sent[1].get('x-two')).toBe('2');
    expect(sent[1].has('x-one')).toBe(false);
  });
});
