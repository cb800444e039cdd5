import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FrameType, decodeFrame, encodeJsonFrame } from '../../local-agent/src/protocol.js';
import { agentNode, root, waitFor } from '../agent/helpers';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// The admin CLI (scripts/admin.mjs) as a process on Node 20, against the real gateway in
// workerd with its D1 database: what it prints, its exit codes, and that the admin token
// never appears in its output.

const ADMIN_TOKEN = 'switchboard-admin-cli-test-token-5f3a9c';
const AGENT_BOOTSTRAP = 'agent-bootstrap-for-cli-test';

let gateway: Gateway;
let mock: OpenAIMock;
/** Every line the CLI printed in this file, to check that the admin token never appears. */
const printed: string[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with the gateway's URL and admin token in the environment (override with `env`). */
function cli(args: string[], env: Record<string, string | undefined> = {}, command: string[] = [agentNode(), 'scripts/admin.mjs']): Promise<Run> {
  const { SWITCHBOARD_URL: _u, SWITCHBOARD_ADMIN_TOKEN: _t, ...base } = process.env;
  const fullEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, SWITCHBOARD_URL: gateway.url, SWITCHBOARD_ADMIN_TOKEN: ADMIN_TOKEN, ...env })) if (v !== undefined) fullEnv[k] = v;
  const proc = spawn(command[0], [...command.slice(1), ...args], { cwd: root, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c) => (stdout += c));
  proc.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      printed.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    }),
  );
}

const created = (run: Run, prefix: RegExp) => {
  const secret = new RegExp(`^  (${prefix.source}[A-Za-z0-9_-]{43})$`, 'm').exec(run.stdout)?.[1];
  const id = /^id:\s+(\S+)$/m.exec(run.stdout)?.[1];
  if (!secret || !id) throw new Error(`no secret or id in:\n${run.stdout}\n${run.stderr}`);
  return { secret, id };
};

const status = (key: string) => fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  mock = await startOpenAIMock();
  gateway = await startGateway({
    ADMIN_TOKEN,
    AGENT_TOKENS: AGENT_BOOTSTRAP,
    MODELS: JSON.stringify({ 'gpt-4o': { target: 'openai/gpt-4o' } }),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${mock.url}/v1`,
  });
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

const chat = (key: string) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
  }).then((r) => r.status);

describe('keys', () => {
  it('create prints the key once with the warning; it works; list, show, --json never carry it; revoke stops it', async () => {
    const create = await cli(['keys', 'create', '--name', 'alice', '--models', 'gpt-4o,anthropic/*', '--expires', '2099-01-01']);
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);
    const { secret: key, id } = created(create, /sk-sb-/);
    expect(create.stdout.split(key)).toHaveLength(2);
    expect(create.stdout).toMatch(new RegExp(`^Created gateway key ${id} \\(alice\\)\\.`));
    expect(create.stdout).toContain('This key is shown only this once: store it now.');
    expect(create.stdout).toContain(`base URL ${gateway.url}/v1`);
    expect(await status(key)).toBe(200);

    const list = await cli(['keys', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+MODELS\s+RPM\s+TPM\s+CONCURRENT\s+BUDGET\/MO\s+EXPIRES\s+STATUS$/);
    expect(lines.find((l) => l.startsWith(id))).toMatch(new RegExp(`^${id}\\s+alice\\s+gpt-4o,anthropic/\\*\\s+.*2099-01-01  active$`));
    expect(list.stdout).not.toContain(key);

    const json = await cli(['keys', 'list', '--json']);
    const body = JSON.parse(json.stdout);
    expect(body.object).toBe('list');
    expect(body.data.find((k: any) => k.id === id)).toMatchObject({ name: 'alice', models: ['gpt-4o', 'anthropic/*'] });
    expect(json.stdout).not.toContain(key);

    const show = await cli(['keys', 'show', id]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^id:\\s+${id}\\nname:\\s+alice\\nmodels:\\s+gpt-4o,anthropic/\\*\\n`));
    expect(show.stdout).toMatch(/^status:\s+active$/m);

    const revoke = await cli(['keys', 'revoke', id]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(new RegExp(`^Revoked gateway key ${id}: the next request with it is refused\\.`));
    expect(revoke.stdout).toMatch(/^status:\s+revoked \(\d{4}-\d{2}-\d{2}T/m);
    expect(await status(key)).toBe(401);
    expect((await cli(['keys', 'list'])).stdout).toMatch(new RegExp(`^${id}\\s+alice\\s.* revoked$`, 'm'));
  });

  it('create --json prints the API object (the key included) and the warning on stderr', async () => {
    const run = await cli(['keys', 'create', '--name', 'json-user', '--json']);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout);
    expect(body).toMatchObject({ object: 'gateway_key', name: 'json-user', key: expect.stringMatching(/^sk-sb-/) });
    expect(run.stderr).toBe('The key in this output is shown only this once: store it now.\n');
  });

  it('runs as `npm run admin -- …`, with the URL and token from flags', async () => {
    const run = await cli(['keys', 'list', '--url', gateway.url, '--admin-token', ADMIN_TOKEN], { SWITCHBOARD_URL: undefined, SWITCHBOARD_ADMIN_TOKEN: undefined }, ['npm', 'run', '--silent', 'admin', '--']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ID\s+NAME\s+MODELS/);
    // npm echoes nothing with --silent, so the token given as a flag is printed nowhere.
    expect(run.stdout).not.toContain(ADMIN_TOKEN);
  });
});

describe('keys: limits, update, rotate', () => {
  it('create with every limit (the issue\'s example), update some, clear one; the table shows them', async () => {
    const create = await cli(['keys', 'create', '--name', 'carol', '--models', 'gpt-4o,anthropic/*', '--rpm', '60', '--tpm', '200000', '--concurrency', '8', '--budget', '50', '--expires', '2099-01-01']);
    expect(create.code, create.stderr).toBe(0);
    const { id } = created(create, /sk-sb-/);
    expect(create.stdout).toMatch(/^rpm:\s+60$/m);
    expect(create.stdout).toMatch(/^budget\/month:\s+\$50\.00$/m);
    expect((await cli(['keys', 'list'])).stdout).toMatch(new RegExp(`^${id}\\s+carol\\s+gpt-4o,anthropic/\\*\\s+60\\s+200000\\s+8\\s+\\$50\\.00  2099-01-01  active$`, 'm'));

    const update = await cli(['keys', 'update', id, '--rpm', '100', '--budget', '25.5', '--models', 'gpt-4o']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toMatch(/^models:\s+gpt-4o$/m);
    expect(update.stdout).toMatch(/^rpm:\s+100$/m);
    expect(update.stdout).toMatch(/^tpm:\s+200000$/m);
    expect(update.stdout).toMatch(/^budget\/month:\s+\$25\.50$/m);

    const clear = await cli(['keys', 'update', id, '--rpm', 'none', '--models', 'all', '--json']);
    expect(clear.code, clear.stderr).toBe(0);
    expect(JSON.parse(clear.stdout)).toMatchObject({ id, rpm: null, models: null, tpm: 200000, max_concurrent: 8, budget_usd: 25.5 });
  });

  it('update: nothing to change is a usage error; a refused value names the field', async () => {
    const nothing = await cli(['keys', 'update', 'key_x']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/^admin: keys update needs at least one of --name/);
    const { id } = created(await cli(['keys', 'create', '--name', 'dan']), /sk-sb-/);
    const past = await cli(['keys', 'update', id, '--expires', '2001-01-01']);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(new RegExp(`^admin: the gateway answered 400 to PATCH /admin/keys/${id}: .*\\(field: expires_at\\)\\n$`));
    const negative = await cli(['keys', 'update', id, '--rpm', '-5']);
    expect(negative.code).toBe(1);
    expect(negative.stderr).toMatch(/\(field: rpm\)\n$/);
  });

  it('rotate prints the new key once; the old one stops at once, the new one works', async () => {
    const { secret: oldKey, id } = created(await cli(['keys', 'create', '--name', 'erin']), /sk-sb-/);
    expect(await status(oldKey)).toBe(200);
    const rotate = await cli(['keys', 'rotate', id]);
    expect(rotate.code, rotate.stderr).toBe(0);
    const { secret: newKey } = created(rotate, /sk-sb-/);
    expect(newKey).not.toBe(oldKey);
    expect(rotate.stdout).toMatch(new RegExp(`^Rotated gateway key ${id} \\(erin\\): the old key no longer works\\.`));
    expect(rotate.stdout.split(newKey)).toHaveLength(2);
    expect(rotate.stdout).toContain('shown only this once');
    expect(rotate.stdout).not.toContain(oldKey);
    expect(await status(oldKey)).toBe(401);
    expect(await status(newKey)).toBe(200);
  });
});

describe('usage', () => {
  it('by key, model and day, since a relative time: tables of what was recorded', async () => {
    const { secret: key, id } = created(await cli(['keys', 'create', '--name', 'frank']), /sk-sb-/);
    for (let i = 0; i < 3; i++) expect(await chat(key)).toBe(200);
    expect(await chat(TEST_GATEWAY_KEY)).toBe(200);
    // Usage is written after the response (waitUntil): wait until the three are there.
    const report = await waitFor(async () => {
      const run = await cli(['usage', '--by', 'key', '--since', '1h', '--json']);
      const body = JSON.parse(run.stdout);
      return body.data.find((r: any) => r.group === id && r.requests === 3) && body;
    }, "frank's three requests recorded");
    expect(Date.parse(report.since)).toBeGreaterThan(Date.now() - 3_600_000 - 60_000);

    const byKey = await cli(['usage', '--by', 'key', '--since', '1h']);
    expect(byKey.code, byKey.stderr).toBe(0);
    const lines = byKey.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Usage by key, \d{4}-\d{2}-\d{2}T\S+ to now$/);
    expect(lines[2]).toMatch(/^KEY\s+NAME\s+REQUESTS\s+ERRORS\s+PROMPT\s+COMPLETION\s+CACHED\s+COST\s+AVG MS$/);
    expect(lines.find((l) => l.startsWith(id))).toMatch(new RegExp(`^${id}\\s+frank\\s+3\\s+0\\s+`));
    expect(lines.at(-1)).toMatch(/^TOTAL\s+\d+/);

    const byModel = await cli(['usage', '--by', 'model', '--since', '24h']);
    expect(byModel.stdout).toMatch(/^MODEL\s+REQUESTS/m);
    expect(byModel.stdout).toMatch(/^gpt-4o\s+\d+\s+/m);

    const byDay = await cli(['usage', '--by', 'day', '--since', '7d', '--key', id]);
    const today = new Date().toISOString().slice(0, 10);
    expect(byDay.stdout).toMatch(new RegExp(`^${today}\\s+3\\s+0\\s+`, 'm'));

    const none = await cli(['usage', '--since', '2001-01-01', '--until', '2001-01-02']);
    expect(none.stdout).toBe('No usage from 2001-01-01T00:00:00.000Z to 2001-01-02T00:00:00.000Z.\n');
  });
});

describe('agent-tokens', () => {
  it('create (scoped, printed once), an agent connects with it, list, revoke disconnects it', async () => {
    const create = await cli(['agent-tokens', 'create', '--name', 'gpu-box-1', '--models', 'qwen-*']);
    expect(create.code).toBe(0);
    const { secret: token, id } = created(create, /sb-agent-/);
    expect(create.stdout).toMatch(new RegExp(`^Created agent token ${id} \\(gpu-box-1\\) for models qwen-\\*\\.`));
    expect(create.stdout).toContain('This agent token is shown only this once');
    expect(create.stdout).toContain('SWITCHBOARD_AGENT_TOKEN');

    const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/agent/connect?model=qwen-7b`, { headers: { authorization: `Bearer ${token}` } });
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('open', () => ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model: 'qwen-7b', capacity: 1 })));
      ws.on('message', (d: Buffer) => decodeFrame(d).type === FrameType.WELCOME && resolve());
    });

    const list = await cli(['agent-tokens', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+MODELS\s+CREATED\s+EXPIRES\s+STATUS$/);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+gpu-box-1\\s+qwen-\\*\\s+\\d{4}-\\d{2}-\\d{2}  never\\s+active$`, 'm'));
    expect(list.stdout).not.toContain(token);

    const revoke = await cli(['agent-tokens', 'revoke', id]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout.split('\n')[0]).toBe(`Revoked agent token ${id}; 1 connected agent socket(s) closed.`);
    expect(await closed).toBe(1008);
  });

  it('bad input: the API names the field, exit 1', async () => {
    const run = await cli(['agent-tokens', 'create', '--name', 'box', '--models', 'qwen *']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^admin: the gateway answered 400 to POST \/admin\/agent-tokens: models\[0\] may only contain .* \(field: models\[0\]\)\n$/);
  });
});

describe('errors', () => {
  it('--help needs neither a token nor a gateway', async () => {
    const run = await cli(['keys', 'create', '--help'], { SWITCHBOARD_ADMIN_TOKEN: undefined, SWITCHBOARD_URL: 'http://127.0.0.1:1' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm run admin -- keys create \[options\]/);
    expect(run.stdout).toContain('--concurrency N');
  });

  it.each([
    [['keyz', 'list'], /^admin: unknown command "keyz"\nRun `npm run admin -- --help` for usage\.\n$/],
    [['keys', 'list', '--colour'], /^admin: unknown option --colour\nRun `npm run admin -- --help` for usage\.\n$/],
    [['keys', 'list', '--rpm', '5'], /^admin: unknown option --rpm for keys list\nRun `npm run admin -- keys list --help` for usage\.\n$/],
    [['keys', 'show'], /^admin: keys show needs ID/],
    [['usage', '--since', 'last week'], /^admin: --since "last week" is neither a duration/],
  ] as [string[], RegExp][])('%j: a usage error, exit 2, nothing sent', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  it('no admin token: says where to put it, exit 1', async () => {
    const run = await cli(['keys', 'list'], { SWITCHBOARD_ADMIN_TOKEN: undefined });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("admin: no admin token: set SWITCHBOARD_ADMIN_TOKEN (or pass --admin-token) to the gateway's ADMIN_TOKEN secret.\n");
  });

  it('gateway unreachable: names the URL and the cause, exit 1', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await cli(['keys', 'list'], { SWITCHBOARD_URL: url });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`admin: cannot reach the gateway at ${url} (ECONNREFUSED). Is it running? \`npm start\` serves http://127.0.0.1:8787; point elsewhere with --url or SWITCHBOARD_URL.\n`);
  });

  it.each([
    ['an unknown id', ['keys', 'show', 'key_nope'], {}, "admin: the gateway answered 404 to GET /admin/keys/key_nope: No gateway key with id 'key_nope'. (field: id)\n"],
    ['a wrong admin token', ['keys', 'list'], { SWITCHBOARD_ADMIN_TOKEN: `${ADMIN_TOKEN}-wrong` }, 'admin: the gateway answered 401 to GET /admin/keys: Missing or invalid admin token. Send the ADMIN_TOKEN as "Authorization: Bearer <token>".\n'],
    ['a gateway key as admin token', ['agent-tokens', 'list'], { SWITCHBOARD_ADMIN_TOKEN: TEST_GATEWAY_KEY }, 'admin: the gateway answered 401 to GET /admin/agent-tokens: Missing or invalid admin token. Send the ADMIN_TOKEN as "Authorization: Bearer <token>".\n'],
  ] as [string, string[], Record<string, string>, string][])("an API error (%s): the API's message, exit 1", async (_name, args, env, stderr) => {
    const run = await cli(args, env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(stderr);
  });

  it('the admin token appeared in none of the output above', () => {
    expect(printed.length).toBeGreaterThan(20);
    for (const text of printed) expect(text).not.toContain(ADMIN_TOKEN);
  });
});
