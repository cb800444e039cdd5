import { timingSafeEqual } from '../auth/gateway-keys';

// Agent tokens, for now the comma-separated secret AGENT_TOKENS (the key-management
// work moves them to storage with scopes). Compared as SHA-256 digests in constant
// time, every configured token checked.

const encoder = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

export async function agentTokenValid(configured: string | undefined, presented: string | null): Promise<boolean> {
  const tokens = (configured ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  if (!presented || tokens.length === 0) return false;
  const [mine, ...theirs] = await Promise.all([sha256(presented), ...tokens.map(sha256)]);
  let ok = false;
  for (const digest of theirs) ok = timingSafeEqual(digest, mine) || ok;
  return ok;
}
