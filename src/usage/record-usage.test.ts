import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { recordUsage, USAGE_FLUSH_MS, type UsageRow } from './usage-store';

// Batching of usage rows (usage-store.ts): one D1 batch per window of USAGE_FLUSH_MS, kept
// alive and written by the request that started it (none waits on another request's work,
// which the runtime would cancel). The rows' SQL is tested against a real D1 in test/unit/usage-store.test.ts.

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
  it('writes the rows of one window as one batch; only the request that started it waits', async () => {
    const { db, batches } = fakeDb();
    const waited: Promise<unknown>[] = [];
    recordUsage(db, row(1), (p) => waited.push(p));
    await vi.advanceTimersByTimeAsync(USAGE_FLUSH_MS - 30);
    recordUsage(db, row(2), (p) => waited.push(p));
    recordUsage(db, row(3), (p) => waited.push(p));
    await vi.advanceTimersByTimeAsync(29);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(waited);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(waited).toHaveLength(1);
  });

  it('a row that comes after a batch was taken starts the next one, written a window later', async () => {
    const { db, batches } = fakeDb();
    const waited: Promise<unknown>[] = [];
    recordUsage(db, row(1), (p) => waited.push(p));
    await vi.advanceTimersByTimeAsync(USAGE_FLUSH_MS);
    recordUsage(db, row(2), (p) => waited.push(p));
    await vi.advanceTimersByTimeAsync(USAGE_FLUSH_MS - 1);
    expect(batches).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(waited);
    expect(batches).toEqual([[1], [2]]);
    expect(waited).toHaveLength(2);
  });

  it('a batch whose writer never fired (its context torn down) is written by a later request', async () => {
    const { db, batches } = fakeDb();
    const waited: Promise<unknown>[] = [];
    recordUsage(db, row(1), (p) => waited.push(p));
    vi.clearAllTimers(); // the writer's timer is gone with its request
    await vi.advanceTimersByTimeAsync(USAGE_FLUSH_MS);
    recordUsage(db, row(2), (p) => waited.push(p)); // not yet overdue by a window: still left to that writer
    expect(waited).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(USAGE_FLUSH_MS);
    recordUsage(db, row(3), (p) => waited.push(p));
    expect(waited).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(USAGE_FLUSH_MS);
    await waited[1];
    expect(batches).toEqual([[1, 2, 3]]);
  });
});
