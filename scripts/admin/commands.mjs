// The admin CLI's commands and flags, as data: the parser (args.mjs), the request builder
// (requests.mjs) and --help all read this one table.

/** Flags every command takes. */
export const GLOBAL_FLAGS = {
  url: { value: 'URL', help: 'gateway base URL (else $SWITCHBOARD_URL, else http://127.0.0.1:8787, what `npm start` serves)' },
  'admin-token': { value: 'TOKEN', help: 'the gateway\'s ADMIN_TOKEN (else $SWITCHBOARD_ADMIN_TOKEN, which keeps it out of the process list)' },
  json: { help: 'print the API\'s JSON instead of tables' },
  help: { help: 'show help' },
};

const KEY_FIELDS = {
  name: { value: 'NAME', help: 'who or what the key is for' },
  models: { value: 'PATTERNS', help: 'comma-separated model names or patterns it may use (\'gpt-4o,anthropic/*\'); "all" = every model' },
  rpm: { value: 'N', help: 'requests per minute ("none" = no limit)' },
  tpm: { value: 'N', help: 'tokens per minute ("none" = no limit)' },
  concurrency: { value: 'N', help: 'requests in flight at once ("none" = no limit)' },
  budget: { value: 'USD', help: 'spend per calendar month in USD ("none" = no limit)' },
  expires: { value: 'WHEN', help: 'expiry: a date (2027-01-01), a date-time, or a duration from now (30d, 12h); "never" = no expiry' },
};

const ID = 'ID';

/** command → { summary, args (positional names), flags, required flags }. */
export const COMMANDS = {
  'keys create': {
    summary: 'create a gateway key (shown once)',
    flags: KEY_FIELDS,
    required: ['name'],
    example: "keys create --name alice --models 'gpt-4o,anthropic/*' --rpm 60 --tpm 200000 --concurrency 8 --budget 50 --expires 2027-01-01",
  },
  'keys list': { summary: 'list gateway keys (never the keys themselves)' },
  'keys show': { summary: 'show one gateway key', args: [ID] },
  'keys update': { summary: "change a key's name, models, limits or expiry (only the flags given)", args: [ID], flags: KEY_FIELDS, example: 'keys update key_… --rpm 100 --budget none' },
  'keys revoke': { summary: 'revoke a key: the next request with it is refused', args: [ID] },
  'keys rotate': { summary: 'replace a key by a new one (shown once); the old one stops working at once', args: [ID] },
  usage: {
    summary: 'usage and spend, grouped by key, model or day',
    flags: {
      by: { value: 'key|model|day', help: 'grouping (default key)' },
      since: { value: 'WHEN', help: 'start: a duration back from now (30m, 24h, 7d), a date or a date-time (default: start of this month, UTC)' },
      until: { value: 'WHEN', help: 'end, the same forms (default: now)' },
      key: { value: ID, help: 'only this key' },
      model: { value: 'NAME', help: 'only this model' },
    },
    example: 'usage --by model --since 7d',
  },
  'agent-tokens create': {
    summary: 'create an agent token for a local-agent, scoped to model names (shown once)',
    flags: {
      name: { value: 'NAME', help: 'which box or agent it is for' },
      models: { value: 'PATTERNS', help: "comma-separated model names or patterns the agent may register ('qwen-*'; '*' = any)" },
      expires: KEY_FIELDS.expires,
    },
    required: ['name', 'models'],
    example: "agent-tokens create --name gpu-box-1 --models 'qwen-*'",
  },
  'agent-tokens list': { summary: 'list agent tokens (never the tokens themselves)' },
  'agent-tokens show': { summary: 'show one agent token', args: [ID] },
  'agent-tokens revoke': { summary: 'revoke an agent token and disconnect its agents at once', args: [ID] },
};

/** The first words of every command: `keys`, `usage`, `agent-tokens`. */
export const GROUPS = [...new Set(Object.keys(COMMANDS).map((c) => c.split(' ')[0]))];
