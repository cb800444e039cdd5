import type { ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FrameType, decodeFrame, encodeFrame, encodeJsonFrame } from '../../local-agent/src/protocol.js';
import { keyHash } from '../../src/auth/key-format';
import { fastTimings, freePorts, spawnAgent, stopAgent, waitFor } from '../agent/helpers';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertErrorResponse } from '../helpers/schema';

// Agent tokens stored in D1 (/admin/agent-tokens), in the real Worker in workerd: scoped
// registration, refusal of revoked and expired tokens, revocation closing connected agents;
// with raw WebSocket agents speaking the tunnel protocol and a real agent process on Node 20.

const ADMIN_TOKEN = 'switchboard-admin-test-token-agent-tokens';
const BOOTSTRAP = 'bootstrap-agent-token-for-tests';

let gateway: Gateway;
let wsUrl: string;
let client: OpenAI;
const agents: ChildProcess[] = [];
const sockets: WebSocket[] = [];

async function admin(path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) {
  const token = init.token === undefined ? ADMIN_TOKEN : init.token;
  const res = await fetch(`${gateway.url}/admin${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as any) : undefined };
}

async function createToken(body: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const res = await admin('/agent-tokens', { body });
  expect(res.status).toBe(201);
  return res.json;
}

interface Dialled {
  status: number;
  body?: any;
  ws?: WebSocket;
  closed?: Promise<{ code: number; reason: string }>;
}

/**
 * Opens an agent's WebSocket at `path` with `token` and resolves on the refusal (its status
 * and error body) or once `welcomed` says a message was the welcome; `hello` is sent on
 * open and `answer` replies to the gateway's messages (its heartbeats).
 */
function dialSocket(path: string, token: string, hello: string | Uint8Array, protocol: { welcomed(data: Buffer): boolean; answer(data: Buffer, ws: WebSocket): void }): Promise<Dialled> {
  const ws = new WebSocket(`${wsUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    ws.on('error', reject);
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('open', () => ws.send(hello));
    ws.on('message', (data: Buffer) => {
      if (protocol.welcomed(data)) resolve({ status: 101, ws, closed });
      protocol.answer(data, ws);
    });
  });
}

/** An agent as the protocol sees it: connect, HELLO, wait for WELCOME (or the refusal). */
function dial(token: string, model: string): Promise<Dialled> {
  return dialSocket(`/v1/agent/connect?model=${encodeURIComponent(model)}`, token, encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model, capacity: 1, engine: 'test' }), {
    welcomed: (data) => decodeFrame(data).type === FrameType.WELCOME,
    answer: (data, ws) => {
      const frame = decodeFrame(data);
      if (frame.type === FrameType.PING) ws.send(encodeFrame(FrameType.PONG, 0, frame.payload));
    },
  });
}

/** An agent brokering an Azure credential (GET /v1/agent/credentials): connect, hello, wait for welcome (or the refusal). */
function dialCredential(token: string, name: string): Promise<Dialled> {
  return dialSocket(`/v1/agent/credentials?name=${encodeURIComponent(name)}`, token, JSON.stringify({ type: 'hello', version: 1, credential: name, host: 'test-box' }), {
    welcomed: (data) => JSON.parse(data.toString()).type === 'welcome',
    answer: (data, ws) => {
      if (JSON.parse(data.toString()).type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    },
  });
}

const listed = async () => (await client.models.list()).data.map((m) => m.id);

/** A real agent process serving `models` (one mock vLLM replica each), with this token. */
async function startAgent(token: string, models: string[]) {
  const base = await freePorts(models.length);
  const { proc, log } = spawnAgent(
    {
      gpus: [0, 1],
      state_dir: 'state',
      ...fastTimings,
      gateway: { url: wsUrl, heartbeat: '1s', reconnect_initial: '20ms', reconnect_max: '400ms', name: 'gpu-box-test' },
      models: models.map((name, i) => ({ name, engine: 'vllm', model: `Qwen/${name}`, replicas: 1, base_port: base + i })),
    },
    { SWITCHBOARD_AGENT_TOKEN: token },
  );
  agents.push(proc);
  return {
    proc,
    get output() {
      return log.text;
    },
  };
}


beforeAll(async () => {
  gateway = await startGateway({ ADMIN_TOKEN, AGENT_TOKENS: BOOTSTRAP, AGENT_IDLE_TIMEOUT_MS: '5000' });
  wsUrl = gateway.url.replace(/^http/, 'ws');
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: TEST_GATEWAY_KEY, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await Promise.all(agents.map(stopAgent));
  await gateway?.close();
});

describe('admin API: /admin/agent-tokens', () => {
  it('creates a token, shown once with its prefix; show and list never carry it; D1 holds only its hash', async () => {
    const created = await admin('/agent-tokens', { body: { name: 'gpu-box-1', models: ['qwen-*'], expires_at: '2099-01-01' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.json).toMatchObject({ object: 'agent_token', name: 'gpu-box-1', models: ['qwen-*'], expires_at: '2099-01-01T00:00:00.000Z', revoked_at: null });
    expect(created.json.token).toMatch(/^sb-agent-[A-Za-z0-9_-]{43}$/);
    expect(created.json.id).toMatch(/^atk_[0-9a-f]{24}$/);
    expect(Object.keys(created.json).sort()).toEqual(['created_at', 'expires_at', 'id', 'models', 'name', 'object', 'revoked_at', 'token']);

    const { token: _token, ...withoutToken } = created.json;
    const shown = await admin(`/agent-tokens/${created.json.id}`);
    expect(shown.status).toBe(200);
    expect(shown.json).toEqual(withoutToken);
    const list = await admin('/agent-tokens');
    expect(list.json.object).toBe('list');
    expect(list.json.data).toContainEqual(withoutToken);
    expect(JSON.stringify(list.json)).not.toContain('sb-agent-');

    const rows = await (await gateway.mf.getD1Database('DB')).prepare('SELECT * FROM agent_tokens WHERE id = ?').bind(created.json.id).all();
    expect(JSON.stringify(rows.results)).not.toContain(created.json.token);
    expect(rows.results[0].token_hash).toBe(await keyHash(created.json.token));
  });

  it('bad input → 400 naming the field; unknown id → 404', async () => {
    const cases: [body: unknown, param: string][] = [
      [{ models: ['qwen-*'] }, 'name'],
      [{ name: 'box' }, 'models'],
      [{ name: 'box', models: [] }, 'models'],
      [{ name: 'box', models: ['qwen-*', 'bad pattern'] }, 'models[1]'],
      [{ name: 'box', models: ['qwen-*'], expires_at: '2001-01-01' }, 'expires_at'],
      [{ name: 'box', models: ['qwen-*'], rpm: 5 }, 'rpm'],
    ];
    for (const [body, param] of cases) {
      const res = await admin('/agent-tokens', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      assertErrorResponse(res.json);
      expect(res.json.error.param).toBe(param);
    }
    for (const res of [await admin('/agent-tokens/atk_nope'), await admin('/agent-tokens/atk_nope/revoke', { method: 'POST' })]) {
      expect(res.status).toBe(404);
      assertErrorResponse(res.json);
      expect(res.json.error.code).toBe('agent_token_not_found');
    }
  });

  it('refuses an agent token, a gateway key, a wrong token and no token as admin credentials: 401', async () => {
    const { token } = await createToken({ name: 'not-an-admin', models: ['*'] });
    for (const credential of [token, BOOTSTRAP, TEST_GATEWAY_KEY, `${ADMIN_TOKEN}x`, null]) {
      const res = await admin('/agent-tokens', { token: credential, body: { name: 'mallory', models: ['*'] } });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_admin_token');
    }
    expect((await admin('/agent-tokens')).json.data.map((t: { name: string }) => t.name)).not.toContain('mallory');
  });
});

describe('agents with stored tokens', () => {
  it("a token scoped to qwen-* registers qwen-7b, not gpt-4o: 403 naming the token's patterns", async () => {
    const { token } = await createToken({ name: 'scoped', models: ['qwen-*', 'llama-3-8b'] });
    const ok = await dial(token, 'qwen-7b');
    expect(ok.status).toBe(101);
    await waitFor(async () => (await listed()).includes('qwen-7b'), 'qwen-7b online');

    const refused = await dial(token, 'gpt-4o');
    expect(refused.status).toBe(403);
    assertErrorResponse(refused.body);
    expect(refused.body.error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed' });
    expect(refused.body.error.message).toContain("may not register the model 'gpt-4o'. It allows: qwen-*, llama-3-8b.");
    expect(await listed()).not.toContain('gpt-4o');
  });

  it('unknown, expired and malformed tokens are refused at connect: 401', async () => {
    const { id, token } = await createToken({ name: 'short-lived', models: ['*'], expires_at: '2099-01-01' });
    expect((await dial(token, 'expiring-model')).status).toBe(101);
    // Expiry without waiting: move the stored expiry into the past.
    const db = await gateway.mf.getD1Database('DB');
    await db.prepare('UPDATE agent_tokens SET expires_at = ? WHERE id = ?').bind('2020-01-01T00:00:00.000Z', id).run();
    const expired = await dial(token, 'expiring-model');
    expect(expired.status).toBe(401);
    expect(expired.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_agent_token', message: 'This agent token has expired.' });

    const unknown = await dial(`sb-agent-${'A'.repeat(43)}`, 'qwen-7b');
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toBe('Invalid agent token.');
    const malformed = await dial('sb-agent-short', 'qwen-7b');
    expect(malformed.status).toBe(401);
    expect(malformed.body.error.message).toMatch(/^Invalid agent token\. Send it as/);
  });

  it('the AGENT_TOKENS bootstrap still works, for any model', async () => {
    expect((await dial(BOOTSTRAP, 'gpt-4o-onprem')).status).toBe(101);
    expect((await dial(BOOTSTRAP, 'qwen-7b')).status).toBe(101);
  });

  it('revoking a token closes the sockets of its agents at once, on every model; others stay; the token is then refused', async () => {
    const revokedToken = await createToken({ name: 'to-revoke', models: ['qwen-*'] });
    const keptToken = await createToken({ name: 'kept', models: ['qwen-*'] });
    const a = await dial(revokedToken.token, 'qwen-7b');
    const b = await dial(revokedToken.token, 'qwen-14b');
    const kept = await dial(keptToken.token, 'qwen-7b');
    // A bootstrap agent claiming the revoked token's id: the gateway replaces what clients send.
    const forged = await dial(BOOTSTRAP, 'qwen-7b', { 'x-switchboard-agent-token-id': revokedToken.id });
    for (const d of [a, b, kept, forged]) expect(d.status).toBe(101);
    await waitFor(async () => (await listed()).includes('qwen-14b'), 'qwen-14b online');

    const res = await admin(`/agent-tokens/${revokedToken.id}/revoke`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ object: 'agent_token', id: revokedToken.id, revoked_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) });
    expect(res.headers.get('x-switchboard-agents-disconnected')).toBe('2');
    // Closed before the revoke answered: no waiting for a heartbeat.
    expect(a.ws!.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
    expect(await a.closed).toEqual({ code: 1008, reason: 'agent token revoked' });
    expect(await b.closed).toEqual({ code: 1008, reason: 'agent token revoked' });
    expect(kept.ws!.readyState).toBe(WebSocket.OPEN);
    expect(forged.ws!.readyState).toBe(WebSocket.OPEN);
    await waitFor(async () => !(await listed()).includes('qwen-14b'), 'qwen-14b offline');
    expect(await listed()).toContain('qwen-7b');

    const again = await dial(revokedToken.token, 'qwen-7b');
    expect(again.status).toBe(401);
    expect(again.body.error.message).toBe('This agent token has been revoked.');
    // Revoking again keeps the first time, and disconnects nothing more.
    const second = await admin(`/agent-tokens/${revokedToken.id}/revoke`, { method: 'POST' });
    expect(second.json.revoked_at).toBe(res.json.revoked_at);
    expect(second.headers.get('x-switchboard-agents-disconnected')).toBe('0');
  });
});

describe('agents brokering Azure credentials with stored tokens', () => {
  it('revoking a token closes its credential brokers at once too, whichever credential they serve, counted with its model agents', async () => {
    const revokedToken = await createToken({ name: 'broker-to-revoke', models: ['qwen-*'] });
    const keptToken = await createToken({ name: 'broker-kept', models: ['qwen-*'] });
    // Credential names no deployment configures: an agent may dial any name, and revocation still reaches it.
    const brokerA = await dialCredential(revokedToken.token, 'lab-azure-east');
    const brokerB = await dialCredential(revokedToken.token, 'lab-azure-west');
    const model = await dial(revokedToken.token, 'qwen-broker-test');
    const keptBroker = await dialCredential(keptToken.token, 'lab-azure-east');
    const bootstrapBroker = await dialCredential(BOOTSTRAP, 'lab-azure-west');
    for (const d of [brokerA, brokerB, model, keptBroker, bootstrapBroker]) expect(d.status).toBe(101);

    const res = await admin(`/agent-tokens/${revokedToken.id}/revoke`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchboard-agents-disconnected')).toBe('3');
    // Closed before the revoke answered: no token request or heartbeat needed to notice.
    for (const d of [brokerA, brokerB, model]) expect(d.ws!.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
    expect(await brokerA.closed).toEqual({ code: 1008, reason: 'agent token revoked' });
    expect(await brokerB.closed).toEqual({ code: 1008, reason: 'agent token revoked' });
    expect(await model.closed).toEqual({ code: 1008, reason: 'agent token revoked' });
    expect(keptBroker.ws!.readyState).toBe(WebSocket.OPEN);
    expect(bootstrapBroker.ws!.readyState).toBe(WebSocket.OPEN);

    const again = await dialCredential(revokedToken.token, 'lab-azure-east');
    expect(again.status).toBe(401);
    assertErrorResponse(again.body);
    expect(again.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_agent_token', message: 'This agent token has been revoked.' });
    const second = await admin(`/agent-tokens/${revokedToken.id}/revoke`, { method: 'POST' });
    expect(second.headers.get('x-switchboard-agents-disconnected')).toBe('0');
  });
});

describe('a real agent process with a scoped token', () => {
  it('serves the models its token allows, reports the refused one clearly, and stops serving when the token is revoked', async () => {
    const { id, token } = await createToken({ name: 'gpu-box-real', models: ['qwen-*'] });
    const agent = await startAgent(token, ['qwen-real-7b', 'gpt-4o-real']);
    const fail = (e: Error) => {
      throw new Error(`${e.message}\n${agent.output}`);
    };
    await waitFor(async () => (await listed()).includes('qwen-real-7b'), 'qwen-real-7b online').catch(fail);
    const answer = await client.chat.completions.create({ model: 'qwen-real-7b', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0].message.content).toMatch(/^Hello from vllm/);

    await waitFor(() => agent.output.includes('tunnel gpt-4o-real: the gateway rejected the agent token (403)'), 'the refusal logged').catch(fail);
    expect(agent.output).toContain("This agent token may not register the model 'gpt-4o-real'. It allows: qwen-*.");
    await waitFor(() => /tunnel gpt-4o-real: the token does not allow this model: .*; trying again in \d+ ms/.test(agent.output), 'the advice after the refusal').catch(fail);
    // Refusals wait the longest backoff (reconnect_max 400ms here: 200–400 ms), not the 20 ms start.
    const waits = [...agent.output.matchAll(/tunnel gpt-4o-real: .*trying again in (\d+) ms/g)].map((m) => Number(m[1]));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(200);
    expect(agent.output).not.toContain('WebSocket was closed before the connection was established');
    expect(await listed()).not.toContain('gpt-4o-real');

    const revoked = await admin(`/agent-tokens/${id}/revoke`, { method: 'POST' });
    expect(revoked.headers.get('x-switchboard-agents-disconnected')).toBe('1');
    await waitFor(async () => !(await listed()).includes('qwen-real-7b'), 'qwen-real-7b offline').catch(fail);
    await waitFor(() => agent.output.includes('tunnel qwen-real-7b: the gateway rejected the agent token (401): This agent token has been revoked.'), 'the revocation logged').catch(fail);
    expect(agent.output).toContain('tunnel qwen-real-7b: connection closed (1008 agent token revoked)');
    // Logged when the refused socket closes, a moment after the refusal itself.
    await waitFor(() => /tunnel qwen-real-7b: the token is unknown, revoked or expired: .*; trying again in \d+ ms/.test(agent.output), 'the advice after the revocation').catch(fail);
    await expect(client.chat.completions.create({ model: 'qwen-real-7b', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toMatchObject({ status: 503 });
    // The agent process itself keeps running (its engines too), waiting for a fix.
    expect(agent.proc.exitCode).toBeNull();
    await stopAgent(agent.proc);
  });
});
