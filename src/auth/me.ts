import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { monthStart } from '../usage/usage-query';
import { keyTotals } from '../usage/usage-store';
import { getKey, query } from './key-store';

/**
 * GET /v1/me: the calling key's own limits and its usage this month (UTC); nothing about
 * other keys. A GATEWAY_KEYS (bootstrap) key has no record: its fields are null.
 */
export async function me(c: Context<AppEnv>): Promise<Response> {
  const key = c.get('gatewayKey');
  const db = c.env.DB;
  if (!key || !db) {
    return c.json({ object: 'gateway_key', id: null, name: null, models: null, rpm: null, tpm: null, max_concurrent: null, budget_usd: null, expires_at: null, usage: null });
  }
  const now = Date.now();
  const [record, totals] = await Promise.all([getKey(db, key.id), query(() => keyTotals(db, key.id, monthStart(now)))]);
  const { id, name, models, rpm, tpm, max_concurrent, budget_usd, expires_at } = record!;
  return c.json({
    object: 'gateway_key',
    id,
    name,
    models,
    rpm,
    tpm,
    max_concurrent,
    budget_usd,
    expires_at,
    usage: {
      month: new Date(now).toISOString().slice(0, 7),
      requests: totals.requests,
      prompt_tokens: totals.prompt_tokens,
      completion_tokens: totals.completion_tokens,
      cached_tokens: totals.cached_tokens,
      cost_usd: totals.cost_usd,
    },
  });
}
