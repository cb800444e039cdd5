import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { recordUsage, type UsageRow } from './usage-store';

// Batching of usage rows (usage-store.ts): one D1 batch per window of FLUSH_MS, and each
// request's waitUntil a promise of its own (the runtime cancels one that waits only on
// another request's work). The rows' SQL is tested against a real D1 in test/unit/usage-store.test.ts.

const row = (latency_ms: number): UsageRow => ({
  created_at: '2026-11-26T12:00:00.000Z', key_id: null, model: 'm', deployment: 'd', provider_model: 'p/m',
  prompt_tokens: 1, completion_tokens: 1, cached_tokens: 0, cost_usd: 0, latency_ms, status: 200, streamed: false, error_type: null, note: null,
});

/** A D1 stand-in that records each batch as the rows its statements carry. */
function fakeDb() {
  const batches: number[][] = [];
  const db = {
    prepare: () => ({ bind: (json: string) => ({ json }) }),
    batch: async (statements: { json: string }[]) => {
      batches.push(statements.flatMap((s) => (JSON.parse(s.json) as unknown[][]).map((values) => values[9] as number)));
      return [];
    },
  };
  return { db: db as unknown as D1Database, batches };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('recordUsage', () => {
  it('writes the rows of one window as one batch, each request waiting on a promise of its own', async () => {
    const { db, batches } = fakeDb();
    const waited: Promise<unknown>[] = [];
    recordUsage(db, row(1), (p) => waited.push(p));
    await vi.advanceTimersByTimeAsync(20);
    recordUsage(db, row(2), (p) => waited.push(p));
    recordUsage(db, row(3), (p) => waited.push(p));
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(30);
    await Promise.all(waited);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(new Set(waited).size).toBe(3);
  });

  it('a row that comes after a batch was taken starts the next one, written a window later', async () => {
    const { db, batches } = fakeDb();
    const waited: Promise<unknown>[] = [];
    recordUsage(db, row(1), (p) => waited.push(p));
    await vi.advanceTimersByTimeAsync(50);
    recordUsage(db, row(2), (p) => waited.push(p));
    await vi.advanceTimersByTimeAsync(49);
    expect(batches).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(waited);
    expect(batches).toEqual([[1], [2]]);
  });
});
