import { timingSafeEqual } from '../auth/gateway-keys';
import { isAgentTokenFormat, keyHash, newAgentToken, newAgentTokenId, sha256 } from '../auth/key-format';
import { modelAllowed } from '../auth/model-patterns';
import type { Env } from '../env';
import { GatewayError } from '../openai/errors';
import { MODEL_HEADER, REGISTRY } from './tunnel-names';

// Agent tokens: the comma-separated secret AGENT_TOKENS (the bootstrap: unscoped, and the
// only source without a DB binding), then tokens created through the admin API and stored
// in D1 (migrations/0003_agent_tokens.sql) only as their SHA-256, each scoped to the model
// names its agents may register. AGENT_TOKENS are compared as SHA-256 digests in constant
// time, every configured token checked; a stored token is found by its digest through D1's
// unique index, so no plaintext is ever compared.

export async function agentTokenValid(configured: string | undefined, presented: string | null): Promise<boolean> {
  const tokens = (configured ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  if (!presented || tokens.length === 0) return false;
  const [mine, ...theirs] = await Promise.all([sha256(presented), ...tokens.map(sha256)]);
  let ok = false;
  for (const digest of theirs) ok = timingSafeEqual(digest, mine) || ok;
  return ok;
}

/** An agent token as the admin API shows it (never its hash). */
export interface AgentTokenRecord {
  id: string;
  name: string;
  models: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface CreateAgentTokenRequest {
  name: string;
  /** Patterns of the model names the token's agents may register (auth/model-patterns.ts). */
  models: string[];
  /** ISO 8601 UTC, or null = never. */
  expiresAt: string | null;
}

/** Why an agent is refused at connect: the body of a 401 or 403. */
export interface AgentRefusal {
  status: 401 | 403;
  message: string;
  code: string;
}

/** Who an admitted agent is: the stored token's id and patterns, or null ones for an AGENT_TOKENS token. */
export interface AgentIdentity {
  tokenId: string | null;
  models: string[] | null;
}

type StoredAgentToken = Pick<AgentTokenRecord, 'id' | 'models' | 'expires_at' | 'revoked_at'>;

const invalid = (message: string): AgentRefusal => ({ status: 401, message, code: 'invalid_agent_token' });

/** The verdict on a stored token looked up by its hash (null: no such token) at time `now`. */
export function storedTokenVerdict(stored: StoredAgentToken | null, now: number): AgentIdentity | AgentRefusal {
  // The holder of a token may learn that it was revoked or expired; nobody else gets this far.
  if (!stored) return invalid('Invalid agent token.');
  if (stored.revoked_at !== null) return invalid('This agent token has been revoked.');
  if (stored.expires_at !== null && Date.parse(stored.expires_at) <= now) return invalid('This agent token has expired.');
  return { tokenId: stored.id, models: stored.models };
}

/** 403 when the token may not register this model; its patterns are named, so the fix is obvious. */
export function scopeRefusal(identity: AgentIdentity, model: string): AgentRefusal | null {
  if (modelAllowed(identity.models, model)) return null;
  return {
    status: 403,
    message: `This agent token may not register the model '${model}'. It allows: ${identity.models!.join(', ')}.`,
    code: 'model_not_allowed',
  };
}

/** Identifies the agent behind a presented token: AGENT_TOKENS first, then D1. */
export async function identifyAgent(env: Pick<Env, 'AGENT_TOKENS' | 'DB'>, presented: string | null, now: number): Promise<AgentIdentity | AgentRefusal> {
  if (!presented) return invalid('Missing agent token. Send it as "Authorization: Bearer <token>".');
  if (await agentTokenValid(env.AGENT_TOKENS, presented)) return { tokenId: null, models: null };
  if (env.DB && isAgentTokenFormat(presented)) return storedTokenVerdict(await findAgentTokenByHash(env.DB, await keyHash(presented)), now);
  return invalid('Invalid agent token. Send it as "Authorization: Bearer <token>": a token created through the admin API (sb-agent-…) or one of the AGENT_TOKENS secret.');
}

// ---- storage (D1) ----------------------------------------------------------

interface Row {
  id: string;
  name: string;
  models: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

const PUBLIC_COLUMNS = 'id, name, models, created_at, expires_at, revoked_at';

export function agentTokenDatabase(env: Pick<Env, 'DB'>): D1Database {
  if (env.DB) return env.DB;
  throw new GatewayError(
    503,
    'Gateway configuration error: agent tokens are stored in D1, and no D1 database is bound as "DB" (wrangler.toml [[d1_databases]]). The AGENT_TOKENS secret works without it.',
    'server_error',
    null,
    'gateway_misconfigured',
  );
}

/** D1 bound but the migration not applied: say what to run instead of a bare 500. */
async function query<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof Error && /no such table: agent_tokens/.test(error.message)) {
      throw new GatewayError(
        503,
        'Gateway configuration error: the D1 database has no agent_tokens table; apply the migrations (`wrangler d1 migrations apply switchboard --local`, or `--remote` when deployed).',
        'server_error',
        null,
        'gateway_misconfigured',
      );
    }
    throw error;
  }
}

const record = (row: Row): AgentTokenRecord => ({ ...row, models: JSON.parse(row.models) as string[] });

/** Creates a token; the returned `token` is the only time it exists outside the agent's box. */
export async function createAgentToken(db: D1Database, request: CreateAgentTokenRequest, now: Date): Promise<AgentTokenRecord & { token: string }> {
  const token = newAgentToken();
  const row: Row = {
    id: newAgentTokenId(),
    name: request.name,
    models: JSON.stringify(request.models),
    created_at: now.toISOString(),
    expires_at: request.expiresAt,
    revoked_at: null,
  };
  const hash = await keyHash(token);
  await query(() =>
    db
      .prepare(`INSERT INTO agent_tokens (${PUBLIC_COLUMNS}, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .bind(row.id, row.name, row.models, row.created_at, row.expires_at, row.revoked_at, hash)
      .run(),
  );
  return { ...record(row), token };
}

export async function listAgentTokens(db: D1Database): Promise<AgentTokenRecord[]> {
  const { results } = await query(() => db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM agent_tokens ORDER BY created_at, id`).all<Row>());
  return results.map(record);
}

export async function getAgentToken(db: D1Database, id: string): Promise<AgentTokenRecord | null> {
  const row = await query(() => db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM agent_tokens WHERE id = ?`).bind(id).first<Row>());
  return row && record(row);
}

/** Revokes a token (kept, with its revocation time); revoking it again keeps the first time. */
export async function revokeAgentToken(db: D1Database, id: string, now: Date): Promise<AgentTokenRecord | null> {
  const row = await query(() =>
    db
      .prepare(`UPDATE agent_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING ${PUBLIC_COLUMNS}`)
      .bind(now.toISOString(), id)
      .first<Row>(),
  );
  return row && record(row);
}

async function findAgentTokenByHash(db: D1Database, hash: string): Promise<StoredAgentToken | null> {
  const row = await query(() => db.prepare('SELECT id, models, expires_at, revoked_at FROM agent_tokens WHERE token_hash = ?').bind(hash).first<Row>());
  return row && { id: row.id, models: JSON.parse(row.models) as string[], expires_at: row.expires_at, revoked_at: row.revoked_at };
}

/** Whether this stored token has been revoked (by id; a token deleted from D1 counts as revoked). */
export async function agentTokenRevoked(db: D1Database, id: string): Promise<boolean> {
  const row = await query(() => db.prepare('SELECT revoked_at FROM agent_tokens WHERE id = ?').bind(id).first<{ revoked_at: string | null }>());
  return !row || row.revoked_at !== null;
}

// ---- revocation reaches connected agents ------------------------------------

/**
 * Closes the WebSockets of every agent connected with this token, at once: each model's
 * Durable Object remembers the token id of its agents (tunnel/model-object.ts), and the
 * REGISTRY instance knows every model name ever registered. Returns how many were closed.
 */
export async function disconnectAgents(env: Pick<Env, 'ONPREM_MODELS'>, tokenId: string): Promise<number> {
  const namespace = env.ONPREM_MODELS;
  if (!namespace) return 0;
  const registry = namespace.get(namespace.idFromName(REGISTRY));
  const entries = (await (await registry.fetch('https://onprem/registry/list')).json()) as { model: string }[];
  const closed = await Promise.all(
    entries.map(async ({ model }) => {
      const res = await namespace
        .get(namespace.idFromName(model))
        .fetch(`https://onprem/revoke-token?token_id=${encodeURIComponent(tokenId)}`, { method: 'POST', headers: { [MODEL_HEADER]: model } });
      if (!res.ok) throw new Error(`the Durable Object of ${model} answered ${res.status}`);
      return ((await res.json()) as { closed: number }).closed;
    }),
  );
  return closed.reduce((a, b) => a + b, 0);
}
