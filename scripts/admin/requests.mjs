// From a parsed command line to the admin API request: pure, no I/O (tested in
// test/unit/admin-cli-requests.test.ts). The API validates everything again and names the
// field it refuses; this only turns the CLI's forms (lists, durations, "none") into JSON.

import { UsageError } from './args.mjs';

const UNITS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A time for the API: a duration (`30m`, `24h`, `7d`, `2w`) counted from `now` in
 * `direction` (-1 back, +1 ahead) → ISO 8601 UTC; an ISO date or date-time → as given
 * (the API reads a date as its midnight UTC). Anything else is a UsageError naming the flag.
 */
export function parseTime(text, now, direction, flag) {
  const value = text.trim();
  const duration = /^(\d+)\s*([mhdw])$/.exec(value);
  if (duration) return new Date(now + direction * Number(duration[1]) * UNITS[duration[2]]).toISOString();
  if (ISO.test(value) && Number.isFinite(Date.parse(value))) return value;
  throw new UsageError(`--${flag} "${text}" is neither a duration (30m, 24h, 7d, 2w) nor a date (2027-01-01) or date-time (2027-01-01T12:00:00Z)`);
}

/** `'gpt-4o, anthropic/*'` → `['gpt-4o', 'anthropic/*']`. */
export function parseList(text, flag) {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag} needs at least one name or pattern`);
  return items;
}

function parseNumber(text, flag, integer) {
  const value = text.trim();
  if (!/^-?\d+(\.\d+)?$/.test(value)) throw new UsageError(`--${flag} must be a ${integer ? 'whole number' : 'number'} or "none", not "${text}"`);
  const n = Number(value);
  if (integer && !Number.isInteger(n)) throw new UsageError(`--${flag} must be a whole number, not "${text}"`);
  return n;
}

/**
 * The key fields of keys create / keys update, by their API names. "all" (models), "none"
 * (a limit) and "never" (expiry) mean no restriction: null on update (clears it), left out
 * on create (where absent already means that).
 */
function keyBody(flags, now, update) {
  const body = {};
  const unset = (flag, word) => flags[flag] !== undefined && flags[flag].trim().toLowerCase() === word;
  const put = (field, value) => {
    if (value !== undefined) body[field] = value;
  };
  const cleared = update ? null : undefined;
  if (flags.name !== undefined) body.name = flags.name;
  if (flags.models !== undefined) put('models', unset('models', 'all') ? cleared : parseList(flags.models, 'models'));
  const limits = [['rpm', 'rpm', true], ['tpm', 'tpm', true], ['concurrency', 'max_concurrent', true], ['budget', 'budget_usd', false]];
  for (const [flag, field, integer] of limits) {
    if (flags[flag] !== undefined) put(field, unset(flag, 'none') ? cleared : parseNumber(flags[flag], flag, integer));
  }
  if (flags.expires !== undefined) put('expires_at', unset('expires', 'never') ? cleared : parseTime(flags.expires, now, +1, 'expires'));
  return body;
}

const path = (base, id, action = '') => `${base}/${encodeURIComponent(id)}${action}`;

/** { command, id, flags } (from parseCommandLine) and the time now (ms) → { method, path, body? }. */
export function buildRequest({ command, id, flags }, now) {
  switch (command) {
    case 'keys create':
      return { method: 'POST', path: '/admin/keys', body: keyBody(flags, now, false) };
    case 'keys list':
      return { method: 'GET', path: '/admin/keys' };
    case 'keys show':
      return { method: 'GET', path: path('/admin/keys', id) };
    case 'keys update': {
      const body = keyBody(flags, now, true);
      if (Object.keys(body).length === 0) throw new UsageError('keys update needs at least one of --name, --models, --rpm, --tpm, --concurrency, --budget, --expires', command);
      return { method: 'PATCH', path: path('/admin/keys', id), body };
    }
    case 'keys revoke':
      return { method: 'POST', path: path('/admin/keys', id, '/revoke') };
    case 'keys rotate':
      return { method: 'POST', path: path('/admin/keys', id, '/rotate') };
    case 'usage': {
      const by = flags.by ?? 'key';
      if (!['key', 'model', 'day'].includes(by)) throw new UsageError(`--by must be key, model or day, not "${by}"`, command);
      const query = new URLSearchParams({ group_by: by });
      if (flags.since !== undefined) query.set('since', parseTime(flags.since, now, -1, 'since'));
      if (flags.until !== undefined) query.set('until', parseTime(flags.until, now, -1, 'until'));
      if (flags.key !== undefined) query.set('key', flags.key);
      if (flags.model !== undefined) query.set('model', flags.model);
      return { method: 'GET', path: `/admin/usage?${query}` };
    }
    case 'agent-tokens create': {
      const body = { name: flags.name, models: parseList(flags.models, 'models') };
      if (flags.expires !== undefined) body.expires_at = parseTime(flags.expires, now, +1, 'expires');
      return { method: 'POST', path: '/admin/agent-tokens', body };
    }
    case 'agent-tokens list':
      return { method: 'GET', path: '/admin/agent-tokens' };
    case 'agent-tokens show':
      return { method: 'GET', path: path('/admin/agent-tokens', id) };
    case 'agent-tokens revoke':
      return { method: 'POST', path: path('/admin/agent-tokens', id, '/revoke') };
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}
