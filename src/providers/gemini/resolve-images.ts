import { GatewayError, badRequest, payloadTooLarge } from '../../openai/errors';
import { isHttpUrl, parseImageDataUrl, sniffImageMediaType } from '../../openai/data-url';
import type { ChatMessage, ImagePart } from '../../openai/types';
import type { GeminiBlob } from './types';

// The IO step before the (pure) translation: every image of the request as bytes
// Gemini can take inline. Gemini reads no arbitrary URLs (fileData takes only
// files uploaded to Google), so the gateway fetches http(s) images itself: all of
// a request's images at once, each with a size cap, a timeout and a check that the
// answer is an image; the media type always comes from the bytes (clients label
// PNG screenshots image/jpeg, and servers send application/octet-stream).

export const IMAGE_FETCH_TIMEOUT_MS = 15_000;

/** Types a server may give an image without saying which; the bytes decide. */
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

export interface ResolveImageOptions {
  maxBytes: number;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  timeoutMs?: number;
  /** The fetch to use (tests); the Worker's global fetch otherwise. */
  fetch?: typeof fetch;
}

export async function resolveImages(messages: ChatMessage[], options: ResolveImageOptions): Promise<Map<ImagePart, GeminiBlob>> {
  const resolved = new Map<ImagePart, GeminiBlob>();
  const remote: { part: ImagePart; param: string }[] = [];
  // data: URLs first: a malformed one fails the request before any fetch starts.
  messages.forEach((m, i) => {
    if (!Array.isArray(m.content)) return;
    m.content.forEach((part, j) => {
      if (part.type !== 'image_url') return;
      const param = `messages[${i}].content[${j}].image_url.url`;
      if (isHttpUrl(part.image_url.url)) {
        remote.push({ part, param });
      } else {
        const image = parseImageDataUrl(part.image_url.url, param, options.maxBytes);
        resolved.set(part, { mimeType: image.mediaType, data: image.base64 });
      }
    });
  });
  if (remote.length === 0) return resolved;

  // One failure fails the request: the other downloads are stopped rather than finished.
  const batch = new AbortController();
  const results = await Promise.allSettled(
    remote.map(async ({ part, param }) => {
      try {
        resolved.set(part, await fetchImage(part.image_url.url, param, options, batch.signal));
      } catch (error) {
        batch.abort();
        throw error;
      }
    }),
  );
  // The first failure in request order among those that failed on their own (not stopped because of another).
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason !== STOPPED);
  if (failure) throw failure.reason;
  return resolved;
}

/** Thrown by a download stopped because another image of the request failed. */
const STOPPED = new Error('stopped: another image failed');

async function fetchImage(url: string, param: string, options: ResolveImageOptions, batch: AbortSignal): Promise<GeminiBlob> {
  const timeoutMs = options.timeoutMs ?? IMAGE_FETCH_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  batch.addEventListener('abort', onAbort, { once: true });
  const fail = (why: string) =>
    badRequest(`The image at ${param} could not be used: ${why}. Gemini cannot fetch URLs itself, so the gateway fetches them; you can also send the image as a base64 data: URL.`, param, 'invalid_image_url');

  try {
    if (batch.aborted) throw STOPPED;
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(url, { signal: controller.signal, headers: { accept: 'image/*' } });
    } catch (error) {
      if (batch.aborted) throw STOPPED;
      throw fail(timedOut ? `fetching it took longer than ${timeoutMs} ms` : `fetching it failed (${error instanceof Error ? error.message : String(error)})`);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw fail(`fetching it returned HTTP ${response.status}`);
    }
    const type = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (!type.startsWith('image/') && !GENERIC_TYPES.has(type)) {
      await response.body?.cancel().catch(() => {});
      throw fail(`the server answered with ${type.slice(0, 64)}, not an image`);
    }
    const declared = Number(response.headers.get('content-length'));
    if (declared > options.maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw tooLarge(param, `${declared} bytes`, options.maxBytes);
    }
    let bytes: Uint8Array;
    try {
      bytes = await readCapped(response, param, options.maxBytes);
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      if (batch.aborted) throw STOPPED;
      throw fail(timedOut ? `reading it took longer than ${timeoutMs} ms` : `reading it failed (${error instanceof Error ? error.message : String(error)})`);
    }
    const mediaType = sniffImageMediaType(bytes);
    if (!mediaType) throw fail('its bytes are not a PNG, JPEG, GIF or WebP image');
    return { mimeType: mediaType, data: bytesToBase64(bytes) };
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onAbort);
    batch.removeEventListener('abort', onAbort);
  }
}

const tooLarge = (param: string, size: string, maxBytes: number) =>
  payloadTooLarge(`The image at ${param} is ${size}; the gateway accepts images up to ${maxBytes} bytes.`, param);

/** The body, refused (413) as soon as it passes maxBytes rather than after reading it all. */
async function readCapped(response: Response, param: string, maxBytes: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(param, `more than ${maxBytes} bytes`, maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Base64 without Node's Buffer (a Worker has none): btoa over binary strings, in slices to bound argument counts. */
export function bytesToBase64(bytes: Uint8Array): string {
  const SLICE = 3 * 8192; // a multiple of 3, so no slice but the last has padding
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += SLICE) {
    parts.push(btoa(String.fromCharCode(...bytes.subarray(i, i + SLICE))));
  }
  return parts.join('');
}
