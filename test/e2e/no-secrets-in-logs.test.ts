import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FrameType, decodeFrame, encodeJsonFrame } from '../../local-agent/src/protocol.js';
import { agentNode, fastTimings, freePorts, root, spawnAgent, stopAgent, waitFor } from '../agent/helpers';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// A representative run — keys created and revoked with the admin CLI, requests with good
// and bad keys, agents connecting with good, scoped, revoked and bad tokens, admin calls
// with good and bad tokens — with everything the gateway (workerd and Miniflare), the agent
// processes and the CLI printed captured; no key, token or provider credential, nor its
// SHA-256, may appear in any of it. The one exception is by design: the CLI prints a key
// or token once, in the output of the command that created it.

const ADMIN_TOKEN = 'admin-token-logcheck-7c1e0b9a2d';
const AGENT_BOOTSTRAP = 'agent-bootstrap-logcheck-4f2a9e';
const ANTHROPIC_KEY = 'sk-ant-api03-logcheck-never-printed-0123456789';
const WRONG_GATEWAY_KEY = `sk-sb-${'W'.repeat(43)}`;
const WRONG_PLAIN_KEY = 'sk-wrong-plain-key-logcheck';
const WRONG_AGENT_TOKEN = `sb-agent-${'Z'.repeat(43)}`;

let mock: OpenAIMock;
let gateway: Gateway;
let gatewayOutput = '';
/** Each CLI run's output, with what it created (a secret allowed there, exactly once). */
const cliRuns: { args: string[]; text: string }[] = [];
const agentOutputs: { name: string; text: string }[] = [];
const agents: ChildProcess[] = [];
const sockets: WebSocket[] = [];
/** Every secret of the run, by what it is. */
const secrets = new Map<string, string>([
  ['ADMIN_TOKEN', ADMIN_TOKEN],
  ['GATEWAY_KEYS bootstrap key', TEST_GATEWAY_KEY],
  ['AGENT_TOKENS bootstrap token', AGENT_BOOTSTRAP],
  ['OPENAI_API_KEY', OPENAI_TEST_KEY],
  ['ANTHROPIC_API_KEY', ANTHROPIC_KEY],
  ['a wrong stored-format key', WRONG_GATEWAY_KEY],
  ['a wrong key', WRONG_PLAIN_KEY],
  ['a wrong agent token', WRONG_AGENT_TOKEN],
]);

function cli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const proc = spawn(agentNode(), ['scripts/admin.mjs', ...args], {
    cwd: root,
    env: { ...process.env, SWITCHBOARD_URL: gateway.url, SWITCHBOARD_ADMIN_TOKEN: ADMIN_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let text = '';
  proc.stdout!.on('data', (c) => {
    stdout += c;
    text += c;
  });
  proc.stderr!.on('data', (c) => (text += c));
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      cliRuns.push({ args, text });
      resolve({ code, stdout });
    }),
  );
}

/** Creates a key or token with the CLI; returns the secret it printed (once) and the id. */
async function cliCreate(args: string[], what: string): Promise<{ secret: string; id: string }> {
  const { code, stdout } = await cli(args);
  expect(code, stdout).toBe(0);
  const secret = /^ {2}((?:sk-sb-|sb-agent-)[A-Za-z0-9_-]{43})$/m.exec(stdout)![1];
  secrets.set(what, secret);
  return { secret, id: /^id:\s+(\S+)$/m.exec(stdout)![1] };
}

function startAgent(name: string, token: string, models: string[], base: number) {
  const { proc, log } = spawnAgent(
    {
      gpus: [0, 1],
      state_dir: 'state',
      ...fastTimings,
      gateway: { url: gateway.url.replace(/^http/, 'ws'), heartbeat: '1s', reconnect_initial: '20ms', reconnect_max: '300ms', name },
      models: models.map((model, i) => ({ name: model, engine: 'vllm', model: `Org/${model}`, replicas: 1, base_port: base + i })),
    },
    { SWITCHBOARD_AGENT_TOKEN: token },
  );
  agents.push(proc);
  const output = {
    name,
    get text() {
      return log.text;
    },
  };
  agentOutputs.push(output);
  return output;
}

const stopAgents = () => Promise.all(agents.map(stopAgent));

const chat = (key: string, model: string, stream = false) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream }),
  }).then(async (r) => ({ status: r.status, text: await r.text() }));

const listed = async () =>
  ((await (await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` } })).json()) as { data: { id: string }[] }).data.map((m) => m.id);

beforeAll(async () => {
  mock = await startOpenAIMock();
  gateway = await startGateway(
    {
      ADMIN_TOKEN,
      AGENT_TOKENS: AGENT_BOOTSTRAP,
      AGENT_IDLE_TIMEOUT_MS: '5000',
      MODELS: JSON.stringify({ 'gpt-4o': { target: 'openai/gpt-4o' } }),
      OPENAI_API_KEY: OPENAI_TEST_KEY,
      OPENAI_BASE_URL: `${mock.url}/v1`,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    },
    { output: (text) => (gatewayOutput += text) },
  );
}, 60_000);

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await stopAgents();
  await gateway?.close();
  await mock?.close();
});

describe('a captured run', () => {
  it('holds no key, token or provider credential, nor the SHA-256 of one, in any log', async () => {
    // --- admin: keys and agent tokens, through the CLI -------------------------------
    const alice = await cliCreate(['keys', 'create', '--name', 'alice', '--models', 'gpt-4o'], 'created key (alice)');
    const bob = await cliCreate(['keys', 'create', '--name', 'bob'], 'created key (bob, revoked later)');
    const box = await cliCreate(['agent-tokens', 'create', '--name', 'gpu-box', '--models', 'qwen-*'], 'created agent token (scoped)');
    const old = await cliCreate(['agent-tokens', 'create', '--name', 'old-box', '--models', '*'], 'created agent token (revoked later)');
    for (const args of [['keys', 'list'], ['keys', 'show', alice.id], ['agent-tokens', 'list'], ['keys', 'list', '--json']]) expect((await cli(args)).code).toBe(0);

    // --- clients: good and bad keys, streamed and not, an upstream error --------------
    expect((await chat(alice.secret, 'gpt-4o')).status).toBe(200);
    expect((await chat(alice.secret, 'gpt-4o', true)).status).toBe(200);
    expect((await chat(TEST_GATEWAY_KEY, 'gpt-4o')).status).toBe(200);
    expect((await chat(alice.secret, 'anthropic/claude-haiku-4-5')).status).toBe(403);
    expect((await chat(WRONG_GATEWAY_KEY, 'gpt-4o')).status).toBe(401);
    expect((await chat(WRONG_PLAIN_KEY, 'gpt-4o')).status).toBe(401);
    mock.script.push({ status: 401, body: { error: { message: 'Incorrect API key provided: sk-o***cdef.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
    expect((await chat(bob.secret, 'gpt-4o')).status).toBeGreaterThanOrEqual(400);
    // Admin routes with a gateway key and with an agent token: refused.
    for (const token of [alice.secret, box.secret]) {
      expect((await fetch(`${gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    }

    // --- agents: scoped (one model allowed, one refused), a wrong token, the bootstrap --
    const base = await freePorts(3);
    const scoped = startAgent('gpu-box', box.secret, ['qwen-logs-7b', 'gpt-logs'], base);
    const wrong = startAgent('wrong-box', WRONG_AGENT_TOKEN, ['qwen-wrong'], base + 2);
    await waitFor(async () => (await listed()).includes('qwen-logs-7b'), 'the scoped agent online');
    expect((await chat(alice.secret, 'gpt-4o')).status).toBe(200);
    expect((await chat(TEST_GATEWAY_KEY, 'qwen-logs-7b')).status).toBe(200);
    await waitFor(() => scoped.text.includes('tunnel gpt-logs: the gateway rejected the agent token (403)'), 'the scope refusal');
    await waitFor(() => wrong.text.includes('the gateway rejected the agent token (401)'), 'the wrong token refused');
    for (const token of [AGENT_BOOTSTRAP, old.secret]) {
      const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/agent/connect?model=raw-${sockets.length}`, { headers: { authorization: `Bearer ${token}` } });
      sockets.push(ws);
      await new Promise<void>((resolve, reject) => {
        ws.on('error', reject);
        ws.on('open', () => ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model: `raw-${sockets.length - 1}`, capacity: 1 })));
        ws.on('message', (d: Buffer) => decodeFrame(d).type === FrameType.WELCOME && resolve());
      });
    }

    // --- revocations, and what follows them -------------------------------------------
    expect((await cli(['keys', 'revoke', bob.id])).code).toBe(0);
    expect((await chat(bob.secret, 'gpt-4o')).status).toBe(401);
    expect((await cli(['agent-tokens', 'revoke', old.id])).code).toBe(0);
    expect((await cli(['agent-tokens', 'revoke', box.id])).code).toBe(0);
    await waitFor(() => scoped.text.includes('tunnel qwen-logs-7b: the gateway rejected the agent token (401): This agent token has been revoked.'), 'the revoked agent refused');
    await cli(['usage', '--by', 'key', '--since', '7d']);
    await cli(['keys', 'show', 'key_does_not_exist']);
    // The CLI with a wrong admin token: its error names no token.
    const bad = spawn(agentNode(), ['scripts/admin.mjs', 'keys', 'list'], { cwd: root, env: { ...process.env, SWITCHBOARD_URL: gateway.url, SWITCHBOARD_ADMIN_TOKEN: WRONG_PLAIN_KEY } });
    let badText = '';
    bad.stdout.on('data', (c) => (badText += c));
    bad.stderr.on('data', (c) => (badText += c));
    await new Promise((r) => bad.on('close', r));
    cliRuns.push({ args: ['keys', 'list (wrong admin token)'], text: badText });
    expect(badText).toContain('401');
    await stopAgents();

    // --- the captured logs ------------------------------------------------------------
    // The capture works: the gateway's log has the requests, the agents' logs their refusals.
    expect(gatewayOutput).toContain('/v1/chat/completions');
    expect(gatewayOutput).toContain('/admin/agent-tokens');
    expect(scoped.text).toContain('connected to');
    expect(secrets.size).toBe(12);

    const logs: { what: string; text: string }[] = [
      { what: 'the gateway (workerd + Miniflare)', text: gatewayOutput },
      ...agentOutputs.map((a) => ({ what: `the agent ${a.name}`, text: a.text })),
    ];
    for (const [what, secret] of secrets) {
      const hash = createHash('sha256').update(secret).digest('hex');
      for (const log of logs) {
        expect(log.text.includes(secret), `${what} in ${log.what}`).toBe(false);
        expect(log.text.toLowerCase().includes(hash), `SHA-256 of ${what} in ${log.what}`).toBe(false);
      }
      // The CLI: a created secret exactly once, in the output of the command that created it; nothing else anywhere.
      const creations = cliRuns.filter((run) => run.text.includes(secret));
      expect(creations.length, `${what} in the CLI's output`).toBeLessThanOrEqual(1);
      if (creations.length) {
        expect(creations[0].args.slice(0, 2).join(' '), what).toMatch(/^(keys|agent-tokens) create$/);
        expect(creations[0].text.split(secret).length - 1, what).toBe(1);
      }
      for (const run of cliRuns) expect(run.text.toLowerCase().includes(hash), `SHA-256 of ${what} in the CLI's output of ${run.args.join(' ')}`).toBe(false);
    }
    expect(cliRuns.filter((run) => [...secrets.values()].some((s) => run.text.includes(s)))).toHaveLength(4);
  });
});
