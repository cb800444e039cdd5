// Gateway keys kept in D1: a recognizable prefix (so a leaked key is easy to spot in logs
// and by secret scanners) and 32 random bytes. Only their SHA-256 is ever stored.

export const KEY_PREFIX = 'sk-sb-';
const KEY_PATTERN = /^sk-sb-[A-Za-z0-9_-]{43}$/;

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A new key: `sk-sb-` + 32 random bytes as base64url (43 characters). */
export function newGatewayKey(random: Uint8Array = crypto.getRandomValues(new Uint8Array(32))): string {
  if (random.length !== 32) throw new Error('a gateway key takes 32 random bytes');
  return KEY_PREFIX + base64url(random);
}

/** Whether a presented key has the shape of a stored key (others are never looked up in D1). */
export function isStoredKeyFormat(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** A public id for the admin API: `key_` + 12 random bytes as hex. */
export function newKeyId(random: Uint8Array = crypto.getRandomValues(new Uint8Array(12))): string {
  return `key_${toHex(random)}`;
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/** What the database stores and is looked up by: the hex SHA-256 of the key. */
export async function keyHash(key: string): Promise<string> {
  return toHex(await sha256(key));
}

// Agent tokens (local-agents dialling the tunnel) are made the same way with their own
// prefix, so a leaked one is recognizably an agent token, never mistaken for a gateway key.

export const AGENT_TOKEN_PREFIX = 'sb-agent-';
const AGENT_TOKEN_PATTERN = /^sb-agent-[A-Za-z0-9_-]{43}$/;

/** A new agent token: `sb-agent-` + 32 random bytes as base64url (43 characters). */
export function newAgentToken(random: Uint8Array = crypto.getRandomValues(new Uint8Array(32))): string {
  if (random.length !== 32) throw new Error('an agent token takes 32 random bytes');
  return AGENT_TOKEN_PREFIX + base64url(random);
}

/** Whether a presented token has the shape of a stored agent token (others are never looked up in D1). */
export function isAgentTokenFormat(token: string): boolean {
  return AGENT_TOKEN_PATTERN.test(token);
}

/** A public id for an agent token: `atk_` + 12 random bytes as hex. */
export function newAgentTokenId(random: Uint8Array = crypto.getRandomValues(new Uint8Array(12))): string {
  return `atk_${toHex(random)}`;
}
