import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { errorResponse, GatewayError, unauthorized } from '../openai/errors';
import { isStoredKeyFormat, sha256, toHex } from './key-format';
import { findKeyByHash } from './key-store';
import { modelAllowed } from './model-patterns';

// Valid keys: the comma-separated secret GATEWAY_KEYS (the bootstrap, and the only source
// without a DB binding), then keys stored in D1 (auth/key-store.ts).
// GATEWAY_KEYS are compared as SHA-256 digests in constant time, and every configured key is
// checked, so neither the timing nor the number of comparisons leaks anything. A stored key
// is found by its digest through D1's unique index: no plaintext is ever compared.
// Stored keys are read on every request, never cached, so a revocation applies to the very next one.

const digestCache = new Map<string, Promise<Uint8Array[]>>();

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
  if (!ok && c.env.DB && isStoredKeyFormat(key)) {
    const stored = await findKeyByHash(c.env.DB, toHex(presented));
    // The holder of a key may learn that it was revoked or expired; nobody else gets this far.
    const refused = !stored
      ? 'Invalid gateway key.'
      : stored.revokedAt !== null
        ? 'This gateway key has been revoked.'
        : stored.expiresAt !== null && Date.parse(stored.expiresAt) <= Date.now()
          ? 'This gateway key has expired.'
          : null;
    if (refused) return errorResponse(unauthorized(refused), { 'www-authenticate': 'Bearer' });
    c.set('gatewayKey', { id: stored!.id, name: stored!.name, models: stored!.models, limits: stored!.limits });
    ok = true;
  }
  if (!ok) return errorResponse(unauthorized('Invalid gateway key.'), { 'www-authenticate': 'Bearer' });
  await next();
};

/** 403 when the request's key may not use this model (keys without patterns may use all). */
export function assertModelAllowed(key: { models: string[] | null } | undefined, model: string): void {
  if (!key || modelAllowed(key.models, model)) return;
  throw new GatewayError(
    403,
    `This gateway key may not use the model '${model}'. It allows: ${key.models!.join(', ')}.`,
    'permission_error',
    'model',
    'model_not_allowed',
  );
}
