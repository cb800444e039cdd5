import { describe, expect, it } from 'vitest';
import { GeminiClient, geminiClient } from './client';

describe('GeminiClient.url', () => {
  const client = new GeminiClient('https://generativelanguage.googleapis.com', 'k');
  it.each<[string, boolean, string]>([
    ['gemini-2.5-flash', false, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent'],
    ['gemini-2.5-flash', true, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'],
    ['models/gemma-3-27b-it', false, 'https://generativelanguage.googleapis.com/v1beta/models/gemma-3-27b-it:generateContent'],
    ['tunedModels/my-model-7', true, 'https://generativelanguage.googleapis.com/v1beta/tunedModels/my-model-7:streamGenerateContent?alt=sse'],
    ['odd name?x', false, 'https://generativelanguage.googleapis.com/v1beta/models/odd%20name%3Fx:generateContent'],
  ])('%s (stream %s)', (model, stream, url) => {
    expect(client.url(model, stream)).toBe(url);
  });
});

describe('geminiClient', () => {
  it('is built once per configuration', () => {
    const env = { GEMINI_API_KEY: 'k1', GEMINI_BASE_URL: 'http://127.0.0.1:9/' };
    const a = geminiClient(env);
    expect(geminiClient({ ...env })).toBe(a);
    expect(a.baseUrl).toBe('http://127.0.0.1:9');
    expect(geminiClient({ ...env, GEMINI_API_KEY: 'k2' })).not.toBe(a);
  });

  it.each([
    [undefined, 'https://generativelanguage.googleapis.com'],
    ['', 'https://generativelanguage.googleapis.com'],
    ['https://proxy.example/gemini/v1beta', 'https://proxy.example/gemini'],
    ['https://proxy.example/gemini/v1/', 'https://proxy.example/gemini'],
  ])('base URL %j → %s', (GEMINI_BASE_URL, expected) => {
    expect(geminiClient({ GEMINI_API_KEY: 'k', GEMINI_BASE_URL }).baseUrl).toBe(expected);
  });
});

describe('GeminiClient.generateContent', () => {
  const withFetch = async (impl: typeof fetch, run: () => Promise<unknown>) => {
    const real = globalThis.fetch;
    globalThis.fetch = impl;
    try {
      return await run();
    } finally {
      globalThis.fetch = real;
    }
  };

  it('sends the key in x-goog-api-key, the body as JSON, and the signal', async () => {
    let seen: { url: string; init?: RequestInit } | undefined;
    const signal = new AbortController().signal;
    await withFetch(
      (async (url: string, init?: RequestInit) => {
        seen = { url, init };
        return new Response('{}');
      }) as typeof fetch,
      () => new GeminiClient('http://g', 'secret-key').generateContent('gemini-2.5-flash', '{"contents":[]}', false, signal),
    );
    expect(seen?.url).toBe('http://g/v1beta/models/gemini-2.5-flash:generateContent');
    expect(seen?.init).toMatchObject({ method: 'POST', body: '{"contents":[]}', signal, headers: { 'content-type': 'application/json', 'x-goog-api-key': 'secret-key' } });
  });

  it('throws the mapped error for an error answer, and a 502 when Gemini cannot be reached', async () => {
    const client = new GeminiClient('http://g', 'k');
    const signal = new AbortController().signal;
    await expect(
      withFetch(
        (async () => new Response(JSON.stringify({ error: { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' } }), { status: 400 })) as typeof fetch,
        () => client.generateContent('m', '{}', false, signal),
      ),
    ).rejects.toMatchObject({ status: 400, message: 'Gemini rejected the request: bad' });
    await expect(
      withFetch(
        (async () => {
          throw new TypeError('connection refused');
        }) as typeof fetch,
        () => client.generateContent('m', '{}', true, signal),
      ),
    ).rejects.toMatchObject({ status: 502, code: 'upstream_unreachable' });
  });
});
