import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPendingMigrations } from '../../scripts/d1-migrations.mjs';
import { insertUsage, type UsageRow } from '../../src/usage/usage-store';

// insertUsage against a real D1 (workerd's, through Miniflare) with the repository's migrations.

let mf: Miniflare;
let db: D1Database;
beforeAll(async () => {
  mf = new Miniflare({ modules: true, script: 'export default { fetch: () => new Response(null) }', d1Databases: ['DB'] });
  db = (await mf.getD1Database('DB')) as unknown as D1Database;
  await applyPendingMigrations(db, new URL('../../migrations', import.meta.url).pathname);
});
afterAll(() => mf?.dispose());

const row = (overrides: Partial<UsageRow>): UsageRow => ({
  created_at: '2026-11-26T12:00:00.000Z',
  key_id: null,
  model: 'gpt-4o',
  deployment: 'openai/gpt-4o',
  provider_model: 'openai/gpt-4o',
  prompt_tokens: 0,
  completion_tokens: 0,
  cached_tokens: 0,
  cost_usd: 0,
  latency_ms: 1,
  status: 200,
  streamed: false,
  error_type: null,
  note: null,
  ...overrides,
});

describe('insertUsage', () => {
  it('writes every row of a batch as given: nulls, booleans, fractions, text that needs escaping', async () => {
    await db.prepare('DELETE FROM usage').run();
    const rows = [
      row({ key_id: 'key_a', prompt_tokens: 1200, completion_tokens: 34, cached_tokens: 1000, cost_usd: 0.000123456, latency_ms: 845, streamed: true }),
      row({ model: null, deployment: null, provider_model: null, status: 499, error_type: 'client_closed_request' }),
      row({ model: 'qwen "vl" \\ 7b — 日本語 🖼️', note: "no price for onprem/qwen: cost recorded as 0; it's 'quoted'", status: 502 }),
    ];
    await insertUsage(db, rows);
    const { results } = await db.prepare('SELECT created_at, key_id, model, deployment, provider_model, prompt_tokens, completion_tokens, cached_tokens, cost_usd, latency_ms, status, streamed, error_type, note FROM usage ORDER BY id').all();
    expect(results).toEqual(rows.map((r) => ({ ...r, streamed: r.streamed ? 1 : 0 })));
  });

  it('writes a batch larger than one statement takes', async () => {
    await db.prepare('DELETE FROM usage').run();
    const rows = Array.from({ length: 2500 }, (_, i) => row({ latency_ms: i, prompt_tokens: i * 2 }));
    await insertUsage(db, rows);
    const totals = await db.prepare('SELECT COUNT(*) AS n, SUM(latency_ms) AS latency, SUM(prompt_tokens) AS prompt FROM usage').first();
    expect(totals).toEqual({ n: 2500, latency: (2499 * 2500) / 2, prompt: 2499 * 2500 });
  });
});
