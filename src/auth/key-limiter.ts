import type { Env } from '../env';
import type { KeyLimits } from './admin-requests';
import { admit, monthOf, newLimitState, release, type Admission, type LimitState } from './limit-state';

// One Durable Object per gateway key with limits (binding KEY_LIMITS, named by the key's
// id). It runs one admission at a time, so a burst against `rpm: 50` admits exactly 50.
// The Worker sends the key's current limits (read from D1 on every request) with each
// admission: a changed limit applies to the very next request. Windows and in-flight
// requests are kept in memory (they matter for a minute); the month's spend is stored.

export interface AdmitMessage {
  keyId: string;
  limits: KeyLimits;
  lease: string;
}

export interface ReleaseMessage {
  keyId: string;
  lease: string;
  tokens: number;
  costUsd: number;
}

interface StoredSpend {
  month: string;
  usd: number;
}

export class KeyLimiter implements DurableObject {
  private state?: LimitState;
  private loading?: Promise<LimitState>;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
  ) {}

  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === '/admit') {
      const message = (await request.json()) as AdmitMessage;
      const state = this.state ?? (await (this.loading ??= this.load(message.keyId)));
      // Synchronous from here: nothing interleaves between the check and the count.
      const admission: Admission = admit(state, message.limits, message.lease, Date.now());
      return Response.json(admission);
    }
    if (path === '/release') {
      const message = (await request.json()) as ReleaseMessage;
      // After a restart of the object the lease is gone, but the usage still counts.
      const state = this.state ?? (await (this.loading ??= this.load(message.keyId)));
      const month = state.month;
      const spent = state.spentUsd;
      const released = release(state, message.lease, message.tokens, message.costUsd, Date.now());
      if (state.spentUsd !== spent || state.month !== month) {
        await this.ctx.storage.put<StoredSpend>('spend', { month: state.month, usd: state.spentUsd });
      }
      return Response.json({ released });
    }
    if (path === '/state') {
      // For operators and tests (never routed from the public API): what the object holds now.
      const state = this.state;
      return Response.json(
        state ? { requests_in_window: state.requests.length, tokens_in_window: state.tokens.reduce((s, e) => s + e.n, 0), in_flight: state.inFlight.size, month: state.month, spent_usd: state.spentUsd } : null,
      );
    }
    return new Response('not found', { status: 404 });
  }

  /**
   * The month's spend from storage; for a month this object has not seen yet, from the
   * usage table (spend before the key got a budget, or before this object existed).
   */
  private async load(keyId: string): Promise<LimitState> {
    const month = monthOf(Date.now());
    const stored = await this.ctx.storage.get<StoredSpend>('spend');
    let spent = stored?.month === month ? stored.usd : null;
    if (spent === null) {
      spent = await monthSpendFromUsage(this.env.DB, keyId, month);
      await this.ctx.storage.put<StoredSpend>('spend', { month, usd: spent });
    }
    this.state = newLimitState(month, spent);
    return this.state;
  }
}

async function monthSpendFromUsage(db: D1Database | undefined, keyId: string, month: string): Promise<number> {
  if (!db) return 0;
  try {
    const row = await db.prepare('SELECT SUM(cost_usd) AS usd FROM usage WHERE key_id = ? AND created_at >= ?').bind(keyId, `${month}-01T00:00:00.000Z`).first<{ usd: number | null }>();
    return row?.usd ?? 0;
  } catch {
    return 0; // no usage table yet: nothing was recorded
  }
}
