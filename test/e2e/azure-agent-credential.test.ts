import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { agentBin, agentNode, root, tempDir, waitFor } from '../agent/helpers';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse } from '../helpers/schema';
import { startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// The `az login` path end to end: the real Worker (AgentCredential Durable Object from
// wrangler.toml), real agent processes on Node 20 brokering an Azure CLI login, a fake
// `az` on their PATH (test/fixtures/bin/az, speaking az's JSON), and the Azure mock
// accepting the tokens that fake az issues as `Authorization: Bearer`.

const AGENT_TOKEN = 'agent-token-for-credential-tests';
const ADMIN_TOKEN = 'admin-token-for-credential-tests';
const fakeAzBin = join(root, 'test/fixtures/bin');

let gateway: Gateway;
let azure: OpenAIMock;
const agents: ChildProcess[] = [];
const output = new Map<string, string>();

/** A credentials-only agent on "box" brokering `credential`, its fake az controlled by a state file. */
function startAgent(box: string, credential: string, az: { mode: string; expiresIn?: number }, agentToken = AGENT_TOKEN) {
  const dir = tempDir('agent-credential-');
  const statePath = join(dir, 'az-state.json');
  writeFileSync(statePath, JSON.stringify(az));
  const configPath = join(dir, 'agent.yaml');
  writeFileSync(
    configPath,
    stringify({
      state_dir: 'state',
      gateway: { url: gateway.url.replace(/^http/, 'ws'), name: box, heartbeat: '1s', reconnect_initial: '20ms', reconnect_max: '200ms' },
      azure_credentials: [{ name: credential }],
    }),
  );
  const proc = spawn(agentNode(), [agentBin, 'start', '--config', configPath], {
    env: { ...process.env, PATH: `${fakeAzBin}:${process.env.PATH}`, FAKE_AZ_STATE: statePath, SWITCHBOARD_AGENT_TOKEN: agentToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  output.set(box, '');
  const collect = (c: Buffer) => output.set(box, output.get(box) + c.toString());
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  agents.push(proc);
  return {
    setAz: (next: { mode: string; expiresIn?: number }) => writeFileSync(statePath, JSON.stringify(next)),
    azCalls: () => {
      try {
        return readFileSync(`${statePath}.calls`, 'utf8').trim().split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    },
    connected: () => waitFor(() => output.get(box)!.includes(`credential ${credential}: connected`), `${box} connected`),
  };
}

beforeAll(async () => {
  azure = await startOpenAIMock({ azureBearer: (token) => /^fake-az-token-\d+$/.test(token) });
  gateway = await startGateway({
    MODELS: JSON.stringify({
      'gpt-4o-lab': { target: 'azure/gpt-4o', endpoint: azure.url, auth: 'agent:lab-azure' },
      'gpt-4o-expired': { target: 'azure/gpt-4o', endpoint: azure.url, auth: 'agent:lab-expired' },
      'gpt-4o-nobody': { target: 'azure/gpt-4o', endpoint: azure.url, auth: 'agent:nobody-here' },
      'gpt-4o-revoked': { target: 'azure/gpt-4o', endpoint: azure.url, auth: 'agent:lab-revoked' },
    }),
    AGENT_TOKENS: AGENT_TOKEN,
    AGENT_IDLE_TIMEOUT_MS: '5000',
    ADMIN_TOKEN,
    // Each request asks the credential's Durable Object (which caches the token), so a revocation shows at once.
    AGENT_CREDENTIAL_RECHECK_MS: '0',
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(
    agents.map((a) => {
      if (a.exitCode !== null) return undefined;
      const exited = new Promise((r) => a.once('exit', r));
      a.kill('SIGTERM');
      return exited;
    }),
  );
  await gateway?.close();
  await azure?.close();
});

beforeEach(() => azure.server.reset());

async function ask(model: string) {
  const res = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await res.text();
  expect(text).not.toMatch(/fake-az-token/);
  return { status: res.status, body: JSON.parse(text) };
}

const bearers = () => azure.server.requests.map((r) => r.headers.authorization);

describe('Azure OpenAI with a token brokered by a local-agent (az login)', () => {
  it('no agent connected for the credential: 503 saying which credential needs an agent', async () => {
    const { status, body } = await ask('gpt-4o-nobody');
    expect(status).toBe(503);
    assertErrorResponse(body);
    expect(body.error.message).toContain("'nobody-here'");
    expect(body.error.message).toContain('azure_credentials: [{ name: nobody-here }]');
    expect(azure.server.requests).toHaveLength(0);
  });

  it('refuses an agent with a bad token, and an invalid credential name', async () => {
    const status = (path: string, token: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}${path}`, { headers: { authorization: `Bearer ${token}` } });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
      });
    expect(await status('/v1/agent/credentials?name=lab-azure', 'wrong')).toBe(401);
    expect(await status('/v1/agent/credentials?name=../x', AGENT_TOKEN)).toBe(400);
  });

  it.each([
    ['a message that is not JSON', 'not json', /messages are JSON objects/],
    ['a token before hello', JSON.stringify({ type: 'token', id: 1, access_token: 'x', expires_on: 1 }), /token before hello/],
    ['a hello for another credential', JSON.stringify({ type: 'hello', version: 1, credential: 'other', host: 'h' }), /does not match this connection's "proto-test"/],
    ['a hello of another protocol version', JSON.stringify({ type: 'hello', version: 99, credential: 'proto-test', host: 'h' }), /protocol version 99 is not supported/],
  ])('closes the socket of an agent that sends %s, saying why', async (_name, message, why) => {
    const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/agent/credentials?name=proto-test`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    await new Promise((resolve) => ws.once('open', resolve));
    const reply = new Promise<any>((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()))));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(message);
    expect(await reply).toMatchObject({ type: 'error', code: 'protocol_error', message: expect.stringMatching(why) });
    expect(await closed).toBe(1002);
  });

  it('requests carry the agent’s token as Bearer; the gateway asks again near expiry, and caches a fresh one', async () => {
    // Tokens with 4 minutes left: inside the 5-minute refresh margin, so every request asks for a new one.
    const box = startAgent('gpu-box-1', 'lab-azure', { mode: 'ok', expiresIn: 240 });
    await box.connected();
    for (let i = 0; i < 3; i++) {
      const { status, body } = await ask('gpt-4o-lab');
      expect(status).toBe(200);
      assertChatCompletion(body);
    }
    expect(bearers()).toHaveLength(3);
    expect(new Set(bearers()).size).toBe(3);
    for (const b of bearers()) expect(b).toMatch(/^Bearer fake-az-token-\d+$/);
    for (const r of azure.server.requests) expect(r.headers['api-key']).toBeUndefined();

    // Tokens valid for an hour: asked for once more, then cached by the gateway.
    box.setAz({ mode: 'ok', expiresIn: 3600 });
    azure.server.reset();
    const before = box.azCalls();
    for (let i = 0; i < 5; i++) expect((await ask('gpt-4o-lab')).status).toBe(200);
    const burst = await Promise.all(Array.from({ length: 10 }, () => ask('gpt-4o-lab')));
    for (const r of burst) expect(r.status).toBe(200);
    expect(box.azCalls()).toBe(before + 1);
    expect(new Set(bearers())).toEqual(new Set([`Bearer fake-az-token-${before + 1}`]));
  });

  it('an expired CLI login: a clear error naming the box to run `az login` on', async () => {
    const box = startAgent('gpu-box-2', 'lab-expired', { mode: 'expired' });
    await box.connected();
    await waitFor(() => output.get('gpu-box-2')!.includes('run `az login` here'), 'the agent reports the expired login');
    const { status, body } = await ask('gpt-4o-expired');
    expect(status).toBe(502);
    assertErrorResponse(body);
    expect(body.error.code).toBe('upstream_auth_failed');
    expect(body.error.message).toContain('run `az login` on gpu-box-2');
    expect(body.error.message).toContain('AADSTS700082');
    expect(azure.server.requests).toHaveLength(0);

    // Someone runs `az login` on the box: the next request is served.
    box.setAz({ mode: 'ok', expiresIn: 3600 });
    expect((await ask('gpt-4o-expired')).status).toBe(200);
    expect(bearers()).toEqual([expect.stringMatching(/^Bearer fake-az-token-\d+$/)]);
  });

  it('an agent whose stored agent token is revoked no longer serves its credential', async () => {
    const admin = (path: string, body?: object) =>
      fetch(`${gateway.url}/admin/agent-tokens${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: body && JSON.stringify(body),
      });
    const created = await (await admin('', { name: 'lab-ws-9', models: ['none-*'] })).json();
    expect(created.token).toMatch(/^sb-agent-/);
    const box = startAgent('lab-ws-9', 'lab-revoked', { mode: 'ok', expiresIn: 3600 }, created.token);
    await box.connected();
    expect((await ask('gpt-4o-revoked')).status).toBe(200);

    const revoked = await admin(`/${created.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get('x-switchboard-agents-disconnected')).toBe('1');
    // Disconnected by the revocation itself, before any request asks for a token.
    await waitFor(() => output.get('lab-ws-9')!.includes('credential lab-revoked: connection closed (1008 agent token revoked)'), 'the broker disconnected');
    const { status, body } = await ask('gpt-4o-revoked');
    expect(status).toBe(503);
    expect(body.error.message).toContain("'lab-revoked'");
    expect(body.error.message).toContain('last connected from lab-ws-9');
    // Its reconnection is refused.
    await waitFor(() => output.get('lab-ws-9')!.includes('the gateway rejected the agent token'), 'the agent refused on reconnect');
  });

  it('the agents never log a token', () => {
    for (const [box, log] of output) {
      expect(log, box).toContain('connected to');
      expect(log, box).not.toContain('fake-az-token');
    }
  });
});
