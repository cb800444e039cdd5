// The usage table (migrations/0002_key_limits_and_usage.sql): one row per chat request,
// written in the background, and the sums GET /admin/usage and GET /v1/me report.

export interface UsageRow {
  created_at: string;
  key_id: string | null;
  model: string | null;
  deployment: string | null;
  provider_model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  latency_ms: number;
  status: number;
  streamed: boolean;
  error_type: string | null;
  note: string | null;
}

/**
 * A bound DB without the usage table (migrations not applied): accounting stops for a
 * minute at a time in this isolate instead of failing every request's background write.
 */
let missingUntil = 0;
export const usageTableAvailable = (now: number) => now >= missingUntil;

const COLUMNS = ['created_at', 'key_id', 'model', 'deployment', 'provider_model', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_usd', 'latency_ms', 'status', 'streamed', 'error_type', 'note'] as const;
// One statement for many rows: they travel as one JSON array bound to one parameter (D1 allows
// 100 parameters per query, so VALUES lists would need 14 per row) and are spread by json_each.
// A statement costs the Worker far more than a row does.
const INSERT = `INSERT INTO usage (${COLUMNS.join(', ')}) SELECT ${COLUMNS.map((_, i) => `json_extract(value, '$[${i}]')`).join(', ')} FROM json_each(?)`;
/** Rows per statement: their JSON stays well under D1's 2 MB per value. */
const ROWS_PER_STATEMENT = 1000;

export async function insertUsage(db: D1Database, rows: UsageRow[]): Promise<void> {
  try {
    const statements = [];
    for (let at = 0; at < rows.length; at += ROWS_PER_STATEMENT) {
      const values = rows.slice(at, at + ROWS_PER_STATEMENT).map((row) => COLUMNS.map((column) => (column === 'streamed' ? (row.streamed ? 1 : 0) : row[column])));
      statements.push(db.prepare(INSERT).bind(JSON.stringify(values)));
    }
    await db.batch(statements);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/no such table: usage/.test(message)) {
      if (usageTableAvailable(Date.now())) {
        console.warn('usage accounting is off: the D1 database has no usage table; apply the migrations (`wrangler d1 migrations apply switchboard`).');
      }
      missingUntil = Date.now() + 60_000;
      return;
    }
    console.error(`recording usage failed (${rows.length} rows):`, message);
  }
}

/** Rows of this isolate waiting for their write; one D1 batch takes all that arrive within USAGE_FLUSH_MS. */
const pending: UsageRow[] = [];
/** When the pending batch's writer is due. */
let dueAt = 0;
/**
 * A second per batch: at most one D1 write a second per isolate, and rows readable within
 * about a second. (At 50 ms, under `npm start` and wrangler dev, where D1 is SQLite inside
 * the same workerd, the writes of sequential streams delayed their first chunks by
 * 0.3–0.5 ms at the median; a row lost with a crashed isolate is as possible as before.)
 */
export const USAGE_FLUSH_MS = 1000;

/**
 * Records a row after the response, batched with the rows of other requests of this
 * isolate (one D1 round trip for a burst, not one per request). The request whose row
 * starts a batch keeps it alive (waitUntil) and writes it when its own timer fires; the
 * rows added meanwhile are only pushed. No request waits on another request's promise:
 * the runtime cancels a waitUntil that waits only on another request's work ("the Workers
 * runtime canceled this request because it detected that your Worker's code had hung")
 * and logs an error each time. (A timer and a waitUntil for every request, as before,
 * cost ≈ 100 µs of workerd CPU each.)
 */
export function recordUsage(db: D1Database, row: UsageRow, waitUntil: (promise: Promise<unknown>) => void): void {
  const now = Date.now();
  pending.push(row);
  // A batch has its writer, unless that writer's timer is long overdue (its request's context torn
  // down before it fired): then this request writes the batch, so rows never pile up unwritten.
  if (pending.length > 1 && now < dueAt + USAGE_FLUSH_MS) return;
  dueAt = now + USAGE_FLUSH_MS;
  waitUntil(
    new Promise((resolve) => setTimeout(resolve, USAGE_FLUSH_MS)).then(() => {
      const rows = pending.splice(0);
      return rows.length ? insertUsage(db, rows) : undefined;
    }),
  );
}

export type GroupBy = 'key' | 'model' | 'day';

export interface UsageFilter {
  keyId?: string;
  model?: string;
  /** ISO 8601 UTC, inclusive. */
  since: string;
  /** ISO 8601 UTC, exclusive; undefined = up to now. */
  until?: string;
}

export interface UsageTotals {
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  avg_latency_ms: number;
}

export interface UsageGroup extends UsageTotals {
  group: string | null;
  key_name?: string | null;
}

const GROUP_COLUMN: Record<GroupBy, string> = { key: 'u.key_id', model: 'u.model', day: 'substr(u.created_at, 1, 10)' };

const TOTALS = `COUNT(*) AS requests, SUM(CASE WHEN u.status >= 400 THEN 1 ELSE 0 END) AS errors,
  SUM(u.prompt_tokens) AS prompt_tokens, SUM(u.completion_tokens) AS completion_tokens, SUM(u.cached_tokens) AS cached_tokens,
  SUM(u.cost_usd) AS cost_usd, AVG(u.latency_ms) AS avg_latency_ms`;

function where(filter: UsageFilter): { sql: string; values: string[] } {
  const clauses = ['u.created_at >= ?'];
  const values = [filter.since];
  if (filter.until !== undefined) {
    clauses.push('u.created_at < ?');
    values.push(filter.until);
  }
  if (filter.keyId !== undefined) {
    clauses.push('u.key_id = ?');
    values.push(filter.keyId);
  }
  if (filter.model !== undefined) {
    clauses.push('u.model = ?');
    values.push(filter.model);
  }
  return { sql: clauses.join(' AND '), values };
}

const round = (n: number | null, digits: number) => Math.round((n ?? 0) * 10 ** digits) / 10 ** digits;

function totals(row: Record<string, number | null>): UsageTotals {
  return {
    requests: row.requests ?? 0,
    errors: row.errors ?? 0,
    prompt_tokens: row.prompt_tokens ?? 0,
    completion_tokens: row.completion_tokens ?? 0,
    cached_tokens: row.cached_tokens ?? 0,
    cost_usd: round(row.cost_usd, 9),
    avg_latency_ms: Math.round(row.avg_latency_ms ?? 0),
  };
}

export async function usageGroups(db: D1Database, filter: UsageFilter, groupBy: GroupBy): Promise<UsageGroup[]> {
  const { sql, values } = where(filter);
  const column = GROUP_COLUMN[groupBy];
  const name = groupBy === 'key' ? ', MAX(k.name) AS key_name' : '';
  const join = groupBy === 'key' ? ' LEFT JOIN gateway_keys k ON k.id = u.key_id' : '';
  const { results } = await db
    .prepare(`SELECT ${column} AS grp${name}, ${TOTALS} FROM usage u${join} WHERE ${sql} GROUP BY grp ORDER BY grp`)
    .bind(...values)
    .all<Record<string, number | null> & { grp: string | null; key_name?: string | null }>();
  return results.map((row) => ({
    group: row.grp,
    // Requests made with a GATEWAY_KEYS (bootstrap) key have no stored key.
    ...(groupBy === 'key' ? { key_name: row.grp === null ? '(GATEWAY_KEYS)' : (row.key_name ?? null) } : {}),
    ...totals(row),
  }));
}

/** One key's totals since a time (GET /v1/me: this month). */
export async function keyTotals(db: D1Database, keyId: string, since: string): Promise<UsageTotals> {
  const { sql, values } = where({ keyId, since });
  const row = await db.prepare(`SELECT ${TOTALS} FROM usage u WHERE ${sql}`).bind(...values).first<Record<string, number | null>>();
  return totals(row ?? {});
}
