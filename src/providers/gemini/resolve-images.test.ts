import { describe, expect, it } from 'vitest';
import type { ChatMessage, ImagePart } from '../../openai/types';
import { bytesToBase64, resolveImages, type ResolveImageOptions } from './resolve-images';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3]);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

const img = (url: string): ImagePart => ({ type: 'image_url', image_url: { url } });
const user = (...parts: ImagePart[]): ChatMessage => ({ role: 'user', content: [{ type: 'text', text: 'look' }, ...parts] });

type Route = (init: RequestInit | undefined) => Response | Promise<Response>;
function fakeFetch(routes: Record<string, Route>) {
  const calls: string[] = [];
  const fn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push(url);
    const route = routes[url];
    if (!route) throw new TypeError('fetch failed');
    return route(init);
  }) as typeof fetch;
  return { fn, calls };
}

const resolve = (messages: ChatMessage[], routes: Record<string, Route> = {}, extra: Partial<ResolveImageOptions> = {}) =>
  resolveImages(messages, { maxBytes: 1024, signal: new AbortController().signal, fetch: fakeFetch(routes).fn, ...extra });

const bytesResponse = (bytes: Uint8Array, headers: Record<string, string> = {}, status = 200) => () => new Response(bytes, { status, headers });

describe('resolveImages', () => {
  it('takes data: URLs as they are, with the type sniffed from the bytes', async () => {
    const part = img(`data:image/jpeg;base64,${b64(PNG)}`);
    const images = await resolve([user(part)]);
    expect(images.get(part)).toEqual({ mimeType: 'image/png', data: b64(PNG) });
  });

  it('names a malformed data: URL', async () => {
    await expect(resolve([user(img('data:image/png;base64,@@@@'))])).rejects.toMatchObject({ status: 400, param: 'messages[0].content[1].image_url.url' });
  });

  it('fetches http(s) images and inlines them, sniffing the type', async () => {
    const a = img('https://img.example/a.png');
    const b = img('http://img.example/b');
    const images = await resolve([user(a), { role: 'assistant', content: 'ok' }, user(b)], {
      'https://img.example/a.png': bytesResponse(PNG, { 'content-type': 'image/jpeg' }),
      'http://img.example/b': bytesResponse(JPEG, { 'content-type': 'application/octet-stream' }),
    });
    expect(images.get(a)).toEqual({ mimeType: 'image/png', data: b64(PNG) });
    expect(images.get(b)).toEqual({ mimeType: 'image/jpeg', data: b64(JPEG) });
  });

  it('resolves images a tool returned', async () => {
    const shot = img('https://img.example/shot');
    const images = await resolve([{ role: 'tool', tool_call_id: 'c', content: [{ type: 'text', text: 'r' }, shot] }], {
      'https://img.example/shot': bytesResponse(PNG, { 'content-type': 'image/png' }),
    });
    expect(images.get(shot)?.mimeType).toBe('image/png');
  });

  it.each<[string, Route, number, string]>([
    ['an HTTP error', bytesResponse(PNG, {}, 404), 400, 'returned HTTP 404'],
    ['an HTML page', () => new Response('<html>login</html>', { headers: { 'content-type': 'text/html; charset=utf-8' } }), 400, 'answered with text/html, not an image'],
    ['bytes that are no image', bytesResponse(new TextEncoder().encode('GIF? no, plain text'), { 'content-type': 'image/png' }), 400, 'not a PNG, JPEG, GIF or WebP'],
    ['a declared size over the cap', bytesResponse(PNG, { 'content-type': 'image/png', 'content-length': '4096' }), 413, '4096 bytes'],
    [
      'a streamed body over the cap',
      () =>
        new Response(
          new ReadableStream({
            pull(c) {
              c.enqueue(new Uint8Array(600).fill(0x89));
            },
          }),
          { headers: { 'content-type': 'image/png' } },
        ),
      413,
      'more than 1024 bytes',
    ],
  ])('refuses %s, naming the part', async (_name, route, status, message) => {
    const url = 'https://img.example/x';
    await expect(resolve([user(img(url))], { [url]: route })).rejects.toMatchObject({
      status,
      param: 'messages[0].content[1].image_url.url',
      message: expect.stringContaining(message),
    });
  });

  it('reports a fetch that fails outright', async () => {
    await expect(resolve([user(img('https://unreachable.example/x.png'))])).rejects.toMatchObject({
      status: 400,
      code: 'invalid_image_url',
      message: expect.stringContaining('fetching it failed (fetch failed)'),
    });
  });

  it('gives up on a slow server after the timeout', async () => {
    const url = 'https://slow.example/x.png';
    const hang: Route = (init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    await expect(resolve([user(img(url))], { [url]: hang }, { timeoutMs: 20 })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('took longer than 20 ms'),
    });
  });

  it('stops fetching when the client goes away', async () => {
    const url = 'https://slow.example/x.png';
    const client = new AbortController();
    let aborted = false;
    const hang: Route = (init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(new DOMException('aborted', 'AbortError'));
        }),
      );
    const pending = resolve([user(img(url))], { [url]: hang }, { signal: client.signal });
    client.abort();
    await expect(pending).rejects.toMatchObject({ status: 400 });
    expect(aborted).toBe(true);
  });

  it('reports the first failing image in request order', async () => {
    const routes: Record<string, Route> = {
      'https://img.example/ok': bytesResponse(PNG, { 'content-type': 'image/png' }),
      'https://img.example/gone': bytesResponse(PNG, {}, 410),
      'https://img.example/html': () => new Response('x', { headers: { 'content-type': 'text/html' } }),
    };
    const messages = [user(img('https://img.example/ok'), img('https://img.example/gone')), user(img('https://img.example/html'))];
    await expect(resolve(messages, routes)).rejects.toMatchObject({ param: 'messages[0].content[2].image_url.url' });
  });

  it('stops the other downloads when one image fails', async () => {
    let stopped = false;
    const routes: Record<string, Route> = {
      'https://img.example/slow': (init) =>
        new Promise((_resolve, reject) =>
          init?.signal?.addEventListener('abort', () => {
            stopped = true;
            reject(new DOMException('aborted', 'AbortError'));
          }),
        ),
      'https://img.example/gone': bytesResponse(PNG, {}, 404),
    };
    await expect(resolve([user(img('https://img.example/slow'), img('https://img.example/gone'))], routes)).rejects.toMatchObject({
      param: 'messages[0].content[2].image_url.url',
      message: expect.stringContaining('HTTP 404'),
    });
    expect(stopped).toBe(true);
  });

  it('checks every data: URL before fetching anything', async () => {
    const fake = fakeFetch({});
    await expect(
      resolveImages([user(img('https://img.example/a'), img('data:image/png;base64,!!'))], { maxBytes: 1024, signal: new AbortController().signal, fetch: fake.fn }),
    ).rejects.toMatchObject({ param: 'messages[0].content[2].image_url.url' });
    expect(fake.calls).toEqual([]);
  });

  it('leaves messages without images alone', async () => {
    const images = await resolve([{ role: 'system', content: 's' }, { role: 'user', content: 'plain' }]);
    expect(images.size).toBe(0);
  });
});

describe('bytesToBase64', () => {
  it.each([[[]], [[0]], [[0, 1]], [[0, 1, 2]], [[255, 254, 253, 252]]])('%j', (bytes) => {
    expect(bytesToBase64(new Uint8Array(bytes))).toBe(b64(new Uint8Array(bytes)));
  });

  it('matches a one-shot encoding across slice boundaries', () => {
    const bytes = new Uint8Array(100_001).map((_, i) => (i * 7) % 256);
    let binary = '';
    for (const b of bytes) binary += String.fromCharCode(b);
    expect(bytesToBase64(bytes)).toBe(btoa(binary));
  });
});
