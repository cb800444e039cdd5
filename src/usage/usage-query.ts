import { timeMs } from '../auth/admin-requests';
import { badRequest } from '../openai/errors';
import type { GroupBy, UsageFilter } from './usage-store';

const GROUPS: GroupBy[] = ['key', 'model', 'day'];
const PARAMS = ['key', 'model', 'since', 'until', 'group_by'];

/** Start of the calendar month (UTC) that `now` is in. */
export const monthStart = (now: number) => {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
};

/**
 * The query of GET /admin/usage: key, model, since, until (ISO 8601 date or date-time, or
 * Unix seconds; since defaults to the start of this month, UTC), group_by (key | model | day; default key).
 */
export function parseUsageQuery(params: URLSearchParams, now: number): { filter: UsageFilter; groupBy: GroupBy } {
  for (const name of params.keys()) if (!PARAMS.includes(name)) throw badRequest(`Unknown parameter '${name}'; usage takes ${PARAMS.join(', ')}.`, name);
  const groupBy = (params.get('group_by') ?? 'key') as GroupBy;
  if (!GROUPS.includes(groupBy)) throw badRequest(`group_by must be one of ${GROUPS.join(', ')}.`, 'group_by');
  const time = (name: 'since' | 'until') => {
    const value = params.get(name);
    if (value === null) return undefined;
    const ms = timeMs(value);
    if (!Number.isFinite(ms)) throw badRequest(`${name} must be an ISO 8601 date or date-time (e.g. "2026-11-01") or Unix seconds.`, name);
    return new Date(ms).toISOString();
  };
  const since = time('since') ?? monthStart(now);
  const until = time('until');
  if (until !== undefined && until <= since) throw badRequest('until must be later than since.', 'until');
  const filter: UsageFilter = { since, ...(until !== undefined ? { until } : {}) };
  const key = params.get('key');
  if (key !== null) filter.keyId = key;
  const model = params.get('model');
  if (model !== null) filter.model = model;
  return { filter, groupBy };
}
