import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { errorResponse, unauthorized } from '../openai/errors';

// Until keys move to D1, valid keys are the comma-separated secret GATEWAY_KEYS.
// Keys are compared as SHA-256 digests in constant time, and every configured key is
// checked, so neither the timing nor the number of comparisons leaks anything.

const encoder = new TextEncoder();
const digestCache = new Map<string, Promise<Uint8Array[]>>();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

function configuredKeyDigests(secret: string): Promise<Uint8Array[]> {
  let digests = digestCache.get(secret);
  if (!digests) {
    const keys = secret.split(',').map((k) => k.trim()).filter(Boolean);
    digests = Promise.all(keys.map(sha256));
    digestCache.clear(); // only the current secret is ever needed
    digestCache.set(secret, digests);
  }
  return digests;
}

export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The key a client presented: `Authorization: Bearer <key>` or Azure-style `api-key: <key>`. */
export function presentedKey(headers: Headers): string | null {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
    return match ? match[1].trim() : null;
  }
  return headers.get('api-key')?.trim() || null;
}

export const requireGatewayKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = presentedKey(c.req.raw.headers);
  if (!key) {
    return errorResponse(
      unauthorized('Missing gateway key. Send it as "Authorization: Bearer <key>" (or an "api-key" header).'),
      { 'www-authenticate': 'Bearer' },
    );
  }
  const [digests, presented] = await Promise.all([configuredKeyDigests(c.env.GATEWAY_KEYS ?? ''), sha256(key)]);
  let ok = false;
  for (const digest of digests) ok = timingSafeEqual(digest, presented) || ok;
  if (!ok) return errorResponse(unauthorized('Invalid gateway key.'), { 'www-authenticate': 'Bearer' });
  await next();
};
