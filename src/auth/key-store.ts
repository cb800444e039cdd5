// Gateway keys in D1 (migrations/0001_gateway_keys.sql). Rows leave this module only as
// KeyRecord, which has no hash: nothing read back from the database can leak a key.

import { GatewayError } from '../openai/errors';
import { LIMIT_FIELDS, type CreateKeyRequest, type KeyLimits, type UpdateKeyRequest } from './admin-requests';
import { keyHash, newGatewayKey, newKeyId } from './key-format';

/** A key as the admin API shows it. */
export interface KeyRecord extends KeyLimits {
  id: string;
  name: string;
  models: string[] | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/** What the auth middleware needs to admit a stored key. */
export interface StoredKey {
  id: string;
  name: string;
  models: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  limits: KeyLimits;
}

interface Row extends KeyLimits {
  id: string;
  name: string;
  models: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/** D1 bound but never migrated (a fresh `npm start`): say what to run instead of a bare 500. */
export async function query<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof Error && /no such (table|column)/.test(error.message)) {
      throw new GatewayError(
        503,
        'Gateway configuration error: the D1 database lacks the tables of migrations/; apply the migrations (`wrangler d1 migrations apply switchboard --local`, or `--remote` when deployed).',
        'server_error',
        null,
        'gateway_misconfigured',
      );
    }
    throw error;
  }
}

// In the order the admin API shows them.
const PUBLIC_COLUMNS = 'id, name, models, rpm, tpm, max_concurrent, budget_usd, created_at, expires_at, revoked_at';

function record(row: Row): KeyRecord {
  return { ...row, models: row.models === null ? null : (JSON.parse(row.models) as string[]) };
}

const limitsOf = (row: KeyLimits): KeyLimits => ({ rpm: row.rpm, tpm: row.tpm, max_concurrent: row.max_concurrent, budget_usd: row.budget_usd });

/** Creates a key; the returned `key` is the only time it exists outside the client. */
export async function createKey(db: D1Database, request: CreateKeyRequest, now: Date): Promise<KeyRecord & { key: string }> {
  const key = newGatewayKey();
  const row: Row = {
    id: newKeyId(),
    name: request.name,
    models: request.models === null ? null : JSON.stringify(request.models),
    ...request.limits,
    created_at: now.toISOString(),
    expires_at: request.expiresAt,
    revoked_at: null,
  };
  const hash = await keyHash(key);
  await query(() =>
    db
      .prepare(`INSERT INTO gateway_keys (${PUBLIC_COLUMNS}, key_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .bind(row.id, row.name, row.models, row.rpm, row.tpm, row.max_concurrent, row.budget_usd, row.created_at, row.expires_at, row.revoked_at, hash)
      .run(),
  );
  return { ...record(row), key };
}

export async function listKeys(db: D1Database): Promise<KeyRecord[]> {
  const { results } = await query(() => db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM gateway_keys ORDER BY created_at, id`).all<Row>());
  return results.map(record);
}

export async function getKey(db: D1Database, id: string): Promise<KeyRecord | null> {
  const row = await query(() => db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM gateway_keys WHERE id = ?`).bind(id).first<Row>());
  return row && record(row);
}

/** Revokes a key (kept, with its revocation time); revoking it again changes nothing. */
export async function revokeKey(db: D1Database, id: string, now: Date): Promise<KeyRecord | null> {
  const row = await query(() =>
    db
      .prepare(`UPDATE gateway_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING ${PUBLIC_COLUMNS}`)
      .bind(now.toISOString(), id)
      .first<Row>(),
  );
  return row && record(row);
}

/** Changes the fields present in the update; null clears. Revoked keys can still be edited (it changes nothing for them). */
export async function updateKey(db: D1Database, id: string, update: UpdateKeyRequest): Promise<KeyRecord | null> {
  const sets: string[] = [];
  const values: (string | number | null)[] = [];
  const set = (column: string, value: string | number | null) => {
    sets.push(`${column} = ?`);
    values.push(value);
  };
  if (update.name !== undefined) set('name', update.name);
  if (update.models !== undefined) set('models', update.models === null ? null : JSON.stringify(update.models));
  if (update.expiresAt !== undefined) set('expires_at', update.expiresAt);
  for (const field of LIMIT_FIELDS) if (update.limits[field] !== undefined) set(field, update.limits[field]!);
  const row = await query(() =>
    db
      .prepare(`UPDATE gateway_keys SET ${sets.join(', ')} WHERE id = ? RETURNING ${PUBLIC_COLUMNS}`)
      .bind(...values, id)
      .first<Row>(),
  );
  return row && record(row);
}

/**
 * A new secret for the key (same id, limits and usage); the old secret's hash is
 * overwritten, so the old key stops working on the very next request. A revoked key stays revoked.
 */
export async function rotateKey(db: D1Database, id: string): Promise<(KeyRecord & { key: string }) | null> {
  const key = newGatewayKey();
  const row = await query(async () =>
    db
      .prepare(`UPDATE gateway_keys SET key_hash = ? WHERE id = ? RETURNING ${PUBLIC_COLUMNS}`)
      .bind(await keyHash(key), id)
      .first<Row>(),
  );
  return row && { ...record(row), key };
}

/** The key whose hash this is: the unique index on key_hash is the comparison, no plaintext is ever compared. */
export async function findKeyByHash(db: D1Database, hash: string): Promise<StoredKey | null> {
  const row = await query(() =>
    db.prepare('SELECT id, name, models, rpm, tpm, max_concurrent, budget_usd, expires_at, revoked_at FROM gateway_keys WHERE key_hash = ?').bind(hash).first<Row>(),
  );
  if (!row) return null;
  return {
    id: row.id,
    name: row.name,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    limits: limitsOf(row),
  };
}
