// What the admin CLI prints: aligned tables and detail blocks from the admin API's JSON.
// Pure (tested in test/unit/admin-cli-format.test.ts); `now` decides what counts as expired.

/**
 * Columns padded to their widest cell, two spaces apart, no trailing spaces. `align` has
 * one 'l' or 'r' per column (numbers read best right-aligned); default all left.
 */
export function table(headers, rows, align = '') {
  const cells = [headers, ...rows].map((row) => row.map((c) => (c === null || c === undefined ? '' : String(c))));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells
    .map((row) => row.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

const dash = (v) => (v === null || v === undefined ? '-' : v);
const day = (iso) => (iso ? iso.slice(0, 10) : 'never');
const models = (m) => (m === null || m === undefined ? 'all' : m.join(','));
const usd = (v, digits = 2) => (v === null || v === undefined ? '-' : `$${Number(v).toFixed(digits)}`);
const int = (v) => (v === null || v === undefined ? '-' : Math.round(Number(v)).toLocaleString('en-US'));

/** active | revoked | expired, as of `now`. */
export function status(item, now) {
  if (item.revoked_at) return 'revoked';
  if (item.expires_at && Date.parse(item.expires_at) <= now) return 'expired';
  return 'active';
}

export function keysTable(keys, now) {
  if (keys.length === 0) return 'No gateway keys yet: npm run admin -- keys create --name NAME';
  return table(
    ['ID', 'NAME', 'MODELS', 'RPM', 'TPM', 'CONCURRENT', 'BUDGET/MO', 'EXPIRES', 'STATUS'],
    keys.map((k) => [k.id, k.name, models(k.models), dash(k.rpm), dash(k.tpm), dash(k.max_concurrent), usd(k.budget_usd), day(k.expires_at), status(k, now)]),
    'lllrrrrll',
  );
}

export function agentTokensTable(tokens, now) {
  if (tokens.length === 0) return "No agent tokens yet: npm run admin -- agent-tokens create --name NAME --models 'PATTERN'";
  return table(
    ['ID', 'NAME', 'MODELS', 'CREATED', 'EXPIRES', 'STATUS'],
    tokens.map((t) => [t.id, t.name, models(t.models), day(t.created_at), day(t.expires_at), status(t, now)]),
  );
}

/** One key or agent token, field by field (never a secret: the API's objects carry none outside creation). */
export function details(item, now) {
  const limits = 'rpm' in item || 'tpm' in item || 'max_concurrent' in item || 'budget_usd' in item;
  const rows = [
    ['id', item.id],
    ['name', item.name],
    ['models', models(item.models)],
    ...(limits
      ? [
          ['rpm', dash(item.rpm)],
          ['tpm', dash(item.tpm)],
          ['concurrent', dash(item.max_concurrent)],
          ['budget/month', usd(item.budget_usd)],
        ]
      : []),
    ['created', item.created_at],
    ['expires', item.expires_at ?? 'never'],
    ['status', `${status(item, now)}${item.revoked_at ? ` (${item.revoked_at})` : ''}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}`).join('\n');
}

/** The one time a secret is printed: set apart, with the warning that it is not shown again. */
export function secretBlock(kind, secret, hint) {
  return [
    '',
    `  ${secret}`,
    '',
    `This ${kind} is shown only this once: store it now. The gateway keeps only its SHA-256 and cannot show it again.`,
    ...(hint ? [hint] : []),
  ].join('\n');
}

const GROUP_HEADERS = { key: 'KEY', model: 'MODEL', day: 'DAY' };

/** GET /admin/usage as a table, with a total row when there is more than one group. */
export function usageTable(report) {
  const by = report.group_by ?? 'key';
  const range = `${report.since ?? 'the start'} to ${report.until ?? 'now'}`;
  if (!report.data?.length) return `No usage from ${range}.`;
  const withName = by === 'key';
  const row = (r) => [
    r.group ?? '-', // by key: requests made with a GATEWAY_KEYS key (the API names them)
    ...(withName ? [r.key_name ?? '-'] : []),
    int(r.requests),
    int(r.errors),
    int(r.prompt_tokens),
    int(r.completion_tokens),
    int(r.cached_tokens),
    usd(r.cost_usd, 4),
    r.avg_latency_ms === null || r.avg_latency_ms === undefined ? '-' : int(r.avg_latency_ms),
  ];
  const rows = report.data.map(row);
  if (report.data.length > 1) {
    const sum = (f) => report.data.reduce((n, r) => n + (Number(r[f]) || 0), 0);
    const requests = sum('requests');
    const latency = requests ? report.data.reduce((n, r) => n + (Number(r.avg_latency_ms) || 0) * (Number(r.requests) || 0), 0) / requests : null;
    rows.push(
      row({ group: 'TOTAL', key_name: '', requests, errors: sum('errors'), prompt_tokens: sum('prompt_tokens'), completion_tokens: sum('completion_tokens'), cached_tokens: sum('cached_tokens'), cost_usd: sum('cost_usd'), avg_latency_ms: latency }),
    );
  }
  const headers = [GROUP_HEADERS[by] ?? by.toUpperCase(), ...(withName ? ['NAME'] : []), 'REQUESTS', 'ERRORS', 'PROMPT', 'COMPLETION', 'CACHED', 'COST', 'AVG MS'];
  return `Usage by ${by}, ${range}\n\n${table(headers, rows, withName ? 'llrrrrrrr' : 'lrrrrrrr')}`;
}

const SECRET_COMMANDS = { 'keys create': 'key', 'keys rotate': 'key', 'agent-tokens create': 'token' };

/** The field holding a secret in this command's response (printed once), or null. */
export const secretField = (command) => SECRET_COMMANDS[command] ?? null;

/**
 * What a successful command prints, from the API's JSON. `context`: now (ms), the gateway
 * URL (for the hint on where clients go), and for agent-tokens revoke how many agents the
 * gateway disconnected (its x-switchboard-agents-disconnected header).
 */
export function renderResult(command, body, { now, url, disconnected = null }) {
  switch (command) {
    case 'keys list':
      return keysTable(body.data, now);
    case 'agent-tokens list':
      return agentTokensTable(body.data, now);
    case 'usage':
      return usageTable(body);
    case 'keys create':
      return [`Created gateway key ${body.id} (${body.name}).`, secretBlock('key', body.key, `Clients use it as their API key with the base URL ${url}/v1.`), '', details(body, now)].join('\n');
    case 'keys rotate':
      return [`Rotated gateway key ${body.id} (${body.name}): the old key no longer works.`, secretBlock('key', body.key), '', details(body, now)].join('\n');
    case 'agent-tokens create':
      return [
        `Created agent token ${body.id} (${body.name}) for models ${body.models.join(', ')}.`,
        secretBlock('agent token', body.token, 'On the GPU box, put it in the environment variable the agent reads (gateway.token_env, SWITCHBOARD_AGENT_TOKEN by default) and start the agent.'),
        '',
        details(body, now),
      ].join('\n');
    case 'keys revoke':
      return `Revoked gateway key ${body.id}: the next request with it is refused.\n\n${details(body, now)}`;
    case 'agent-tokens revoke':
      return `Revoked agent token ${body.id}${disconnected === null ? '' : `; ${disconnected} connected agent socket(s) closed`}.\n\n${details(body, now)}`;
    default:
      return details(body, now);
  }
}
