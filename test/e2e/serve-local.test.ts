import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertChatCompletion, assertErrorResponse, assertModelList } from '../helpers/schema';
import { OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// `npm start` itself: scripts/serve-local.mjs as a process, configured from the repository's
// wrangler.toml (the [vars.MODELS] aliases) and a secrets file given with --secrets-file, with
// its local state in a temporary directory.

const root = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'sk-serve-local-test-key';
const ADMIN_TOKEN = 'serve-local-admin-token-0123456789';

let dir: string;
let mock: OpenAIMock;
let server: ChildProcess;
let output = '';
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-serve-local-'));
  mock = await startOpenAIMock();
  const envFile = join(dir, 'env');
  writeFileSync(envFile, `GATEWAY_KEYS=${KEY}\nADMIN_TOKEN=${ADMIN_TOKEN}\nOPENAI_API_KEY=${OPENAI_TEST_KEY}\nOPENAI_BASE_URL=${mock.url}/v1\n`);
  server = spawn(
    process.execPath,
    ['scripts/serve-local.mjs', '--port', '0', '--secrets-file', envFile, '--persist-to', join(dir, 'state')],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stderr!.on('data', (d) => (output += d));
  url = await new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', (d) => {
      output += d;
      const match = /gateway on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    server.once('exit', (code) => reject(new Error(`serve-local exited (${code}):\n${output}`)));
  });
});

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGKILL');
    await exited;
  }
  await mock?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm start (scripts/serve-local.mjs)', () => {
  it('prints the models from wrangler.toml and only the names of the secrets', () => {
    expect(output).toMatch(/gpt-4o\s+→ openai\/gpt-4o/);
    expect(output).toContain('secrets from');
    expect(output).toContain('GATEWAY_KEYS');
    expect(output).not.toContain(KEY);
    expect(output).not.toContain(OPENAI_TEST_KEY);
  });

  it('applies the D1 migrations to a new local database, so admin keys work from the first start', async () => {
    expect(output).toMatch(/D1 DB: applied migrations 0001_gateway_keys\.sql, 0002_/);
    const created = await fetch(`${url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'first-start' }),
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
    expect(output).not.toContain(ADMIN_TOKEN);
  });

  it('answers /health and refuses /v1 without a gateway key', async () => {
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const refused = await fetch(`${url}/v1/models`);
    expect(refused.status).toBe(401);
    assertErrorResponse(await refused.json());
  });

  it('serves the wrangler.toml aliases with the secrets from the env file, through to the upstream', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.json());
    assertModelList(models);
    expect(models.data.map((m: { id: string }) => m.id)).toContain('gpt-4o');

    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    assertChatCompletion(completion);
    expect(mock.server.last.path).toBe('/v1/chat/completions');
    expect(mock.server.last.headers.authorization).toBe(`Bearer ${OPENAI_TEST_KEY}`);
    expect(mock.server.last.body.model).toBe('gpt-4o');

    const unknown = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(unknown.status).toBe(404);
    assertErrorResponse(await unknown.json());
  });

  it('stops on SIGTERM with exit code 0 and removes its bundle directory', async () => {
    const bundleDir = join(root, `.wrangler/tmp/serve-local-${server.pid}`);
    expect(existsSync(bundleDir)).toBe(true);
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(bundleDir)).toBe(false);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
