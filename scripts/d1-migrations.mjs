// D1 migrations (migrations/*.sql) as `wrangler d1 migrations apply` applies them: files in
// name order, each recorded by name in the d1_migrations table, so that wrangler and
// `npm start` agree on what a local database has. Used by `npm start` (pending migrations
// are applied to the local database at start) and by the tests (in-memory databases).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** wrangler's bookkeeping table (`migrations_table`, default d1_migrations), created the way wrangler creates it. */
const createTable = (table) => `CREATE TABLE IF NOT EXISTS ${table} (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

/** The .sql files of a migrations directory in the order wrangler applies them, each split into statements. */
export function migrationFiles(dir) {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((name) => ({
      name,
      statements: readFileSync(join(dir, name), 'utf8')
        .replace(/--[^\n]*/g, '')
        .split(';')
        .map((statement) => statement.trim())
        .filter(Boolean),
    }));
}

/**
 * Applies the migrations a database has not had yet, each file in one batch (all or
 * nothing) together with its bookkeeping row. Returns the names applied.
 * @param {D1Database} db  a D1 binding (Miniflare's getD1Database)
 */
export async function applyPendingMigrations(db, dir, migrationsTable = 'd1_migrations') {
  const table = `"${migrationsTable.replace(/"/g, '""')}"`;
  await db.prepare(createTable(table)).run();
  const { results } = await db.prepare(`SELECT name FROM ${table}`).all();
  const done = new Set(results.map((row) => row.name));
  const applied = [];
  for (const { name, statements } of migrationFiles(dir)) {
    if (done.has(name)) continue;
    await db.batch([...statements.map((s) => db.prepare(s)), db.prepare(`INSERT INTO ${table} (name) VALUES (?)`).bind(name)]);
    applied.push(name);
  }
  return applied;
}
