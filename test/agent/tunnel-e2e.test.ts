import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FrameType, decodeFrame, encodeFrame, encodeJsonFrame } from '../../local-agent/src/protocol.js';
import { stringify } from 'yaml';
import { isAlive } from '../../local-agent/src/process-group.js';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { agentBin, agentNode, engineBinDir, fastTimings, freePorts, mockStats, root, tempDir, waitFor, stopAgent } from './helpers';

// The real gateway in workerd (Miniflare, with the OnPremModel Durable Object from
// wrangler.toml), a real agent process on Node 20 dialling it, 4 mock vLLM replicas,
// the openai SDK as client.

const TOKEN = 'agent-token-for-tests';
let gateway: Gateway;
let url: string;
let client: OpenAI;
let base: number;
let configPath: string;
let agent: ChildProcess;
let output = '';

function startAgent() {
  const proc = spawn(agentNode(), [agentBin, 'start', '--config', configPath], {
    env: { ...process.env, PATH: `${engineBinDir}:${process.env.PATH}`, SWITCHBOARD_AGENT_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (c) => (output += c));
  proc.stderr!.on('data', (c) => (output += c));
  return proc;
}

function allReady() {
  const statusPath = join(configPath, '../state/status.json');
  return waitFor(() => {
    try {
      const status = JSON.parse(readFileSync(statusPath, 'utf8'));
      return status.pid === agent.pid && status.replicas.every((r: any) => r.state === 'ready');
    } catch {
      return false;
    }
  }, 'all replicas ready');
}

const listed = async () => (await client.models.list()).data.map((m) => m.id);
const enginePids = async () => (await Promise.all([0, 1, 2, 3].map((i) => mockStats(base + i)))).map((s) => s.pid as number);

beforeAll(async () => {
  gateway = await startGateway({ AGENT_TOKENS: `other-token, ${TOKEN}`, AGENT_IDLE_TIMEOUT_MS: '5000' });
  url = gateway.url;
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: TEST_GATEWAY_KEY, maxRetries: 0 });
  base = await freePorts(4);
  const dir = tempDir();
  configPath = join(dir, 'agent.yaml');
  writeFileSync(configPath, stringify({
    gpus: [0, 1, 2, 3], state_dir: 'state', ...fastTimings,
    gateway: { url: url.replace(/^http/, 'ws'), heartbeat: '1s', reconnect_initial: '20ms', reconnect_max: '200ms', name: 'gpu-box-1' },
    models: [{ name: 'qwen2-vl-7b', engine: 'vllm', model: 'Qwen/Qwen2-VL-7B-Instruct', replicas: 4, base_port: base, args: ['--limit-mm-per-prompt', '{"image": 10}'] }],
  }));
}, 60_000);

afterAll(async () => {
  await stopAgent(agent); // stops its engines too
  await gateway?.close();
});

describe('on-prem models through the tunnel', () => {
  it('a model never registered is a 404', async () => {
    await expect(client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    expect(await listed()).toEqual([]);
    await expect(client.models.retrieve('qwen2-vl-7b')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('an agent with a bad token is refused with 401', async () => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/agent/connect?model=x`, { headers: { authorization: 'Bearer wrong' } });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(401);
  });

  it.each([
    ['a text message', () => 'hello', /text message: frames are binary/],
    ['a request frame before HELLO', () => encodeFrame(FrameType.RESPONSE_END, 1), /RESPONSE_END before HELLO/],
    ['an unsupported protocol version', () => encodeJsonFrame(FrameType.HELLO, 0, { version: 9, model: 'x', capacity: 1 }), /protocol version 9 is not supported/],
    ['a hello for another model', () => encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model: 'y', capacity: 1 }), /does not match this connection's model "x"/],
  ] as [string, () => any, RegExp][])('a connection that sends %s is closed with an error frame', async (_n, frame, message) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/agent/connect?model=x`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const received: any[] = [];
    ws.on('message', (d: Buffer) => received.push(decodeFrame(d)));
    await new Promise((r) => ws.once('open', r));
    ws.send(frame());
    const code = await new Promise((r) => ws.once('close', r));
    expect(code).toBe(1002);
    expect(received[0]).toMatchObject({ type: FrameType.ERROR, streamId: 0 });
    expect(received[0].json.message).toMatch(message);
  });

  it('the agent registers its pool; requests spread over its 4 replicas; streaming works', async () => {
    agent = startAgent();
    await waitFor(async () => (await listed()).includes('qwen2-vl-7b'), 'the model online', 20_000).catch((e) => {
      throw new Error(`${e.message}\n${output}`);
    });
    await allReady();
    // Retrieved as listed, while an agent serves it.
    expect(await client.models.retrieve('qwen2-vl-7b')).toEqual({ id: 'qwen2-vl-7b', object: 'model', created: 0, owned_by: 'onprem' });
    // An Azure-style client: the deployment in the path names the model, and the engine gets the name it serves.
    const azure = new AzureOpenAI({ endpoint: gateway.url, apiKey: TEST_GATEWAY_KEY, apiVersion: '2024-10-21', deployment: 'qwen2-vl-7b', maxRetries: 0 });
    const viaAzurePath = await azure.chat.completions.create({ model: 'not-the-engine-name', messages: [{ role: 'user', content: 'Hi' }] });
    expect(viaAzurePath.choices[0].message.content).toBeTruthy();
    const answers = await Promise.all(Array.from({ length: 12 }, () => client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'Hi' }], top_k: 5 } as any)));
    expect(new Set(answers.map((a) => a.choices[0].message.content!.split(' ').pop())).size).toBe(4);

    const stream = await client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    let content = '';
    let usage: any = null;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(content).toMatch(/^Hello from vllm port \d+$/);
    expect(usage.completion_tokens).toBe(5);
  });

  it('a 20 MB request body goes through in chunks', async () => {
    const big = 'x'.repeat(20 * 1024 * 1024);
    const answer = await client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: big }] });
    expect(answer.usage!.prompt_tokens).toBeGreaterThan((20 * 1024 * 1024) / 4);
  });

  it('a body the engine cannot parse is a 400 OpenAI error; a body naming its model last streams through too', async () => {
    const post = (body: string) => fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' }, body });
    const broken = await post('{"model":"qwen2-vl-7b","messages":[{"role":"user","content":"x"}');
    expect(broken.status).toBe(400);
    expect((await broken.json()).error).toMatchObject({ type: 'invalid_request_error', message: expect.any(String) });
    // As the Python SDK orders it: messages (here 2 MB of them) before model.
    const late = await post(JSON.stringify({ messages: [{ role: 'user', content: 'y'.repeat(2 * 1024 * 1024) }], model: 'qwen2-vl-7b' }));
    expect(late.status).toBe(200);
    expect((await late.json()).choices[0].message.content).toMatch(/^Hello from vllm/);
  });

  it('an engine error passes through with its status', async () => {
    const images = Array.from({ length: 11 }, () => ({ type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }));
    await expect(client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: images }] })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('At most 10 image(s)') });
  });

  it('a client that aborts cancels the engine request', async () => {
    const cancelled = async () => (await Promise.all([0, 1, 2, 3].map((i) => mockStats(base + i)))).reduce((n, s) => n + s.cancelled, 0);
    const before = await cancelled();
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'x' }], stream: true, mock_chunks: 500, mock_delay_ms: 10 } as any, { signal: controller.signal });
    let seen = 0;
    try {
      for await (const _ of stream as any) if (++seen === 3) controller.abort();
    } catch {
      // aborted
    }
    await waitFor(async () => (await cancelled()) === before + 1, 'the engine to see the cancel');
  });

  it('the agent killed mid-stream: the client gets a clean error, 503 while offline, service resumes when it reconnects; two agents share the load', async () => {
    const pids = await enginePids();
    const stream = await client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'x' }], stream: true, mock_chunks: 500, mock_delay_ms: 10 } as any);
    let seen = 0;
    const consumed = (async () => {
      for await (const chunk of stream as any) if (++seen === 3) agent.kill('SIGKILL');
      return 'ended';
    })().catch((e: Error) => `threw: ${e.message}`);
    const outcome = await consumed;
    expect(seen).toBeLessThan(500);
    expect(outcome).toMatch(/threw|ended/);

    // SIGKILL gave the agent no chance to stop its engines: they still run until its next start.
    expect(pids.every((pid) => isAlive(pid))).toBe(true);
    await waitFor(async () => !(await listed()).includes('qwen2-vl-7b'), 'the model offline');
    await expect(client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 503, message: expect.stringContaining('has no agent online') });

    agent = startAgent();
    await waitFor(async () => (await listed()).includes('qwen2-vl-7b'), 'the model online again', 20_000);
    await allReady().catch((e) => {
      throw new Error(`${e.message}\n${output.slice(-3000)}`);
    });
    expect(output).toContain('stopping 4 engine process group(s) left by a previous run');
    expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
    const answer = await client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0].message.content).toMatch(/^Hello from vllm/);

    // A second agent (another box) serving the same model: the load is shared.
    const baseB = await freePorts(2);
    const dirB = tempDir();
    const configB = join(dirB, 'agent.yaml');
    writeFileSync(configB, readFileSync(configPath, 'utf8').replace(`base_port: ${base}`, `base_port: ${baseB}`).replace('replicas: 4', 'replicas: 2').replace('gpu-box-1', 'gpu-box-2'));
    const second = spawn(agentNode(), [agentBin, 'start', '--config', configB], {
      env: { ...process.env, PATH: `${engineBinDir}:${process.env.PATH}`, SWITCHBOARD_AGENT_TOKEN: TOKEN },
      stdio: 'ignore',
    });
    try {
      await waitFor(() => existsSync(join(dirB, 'state/status.json')) && JSON.parse(readFileSync(join(dirB, 'state/status.json'), 'utf8')).replicas.every((r: any) => r.state === 'ready'), 'the second agent');
      const ports = new Set<string>();
      await waitFor(async () => {
        const answers = await Promise.all(Array.from({ length: 12 }, () => client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'Hi' }], mock_delay_ms: 5 } as any)));
        for (const a of answers) ports.add(a.choices[0].message.content!.split(' ').pop()!);
        return [baseB, baseB + 1].some((p) => ports.has(String(p))) && [0, 1, 2, 3].some((i) => ports.has(String(base + i)));
      }, 'requests served by both agents');
    } finally {
      const secondExited = new Promise((r) => second.once('exit', r));
      second.kill('SIGTERM');
      await secondExited;
    }

    const exited = new Promise((r) => agent.once('exit', r));
    const running = await enginePids();
    agent.kill('SIGTERM');
    await exited;
    expect(running.filter((p) => isAlive(p))).toEqual([]);
  });
});
