import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isAlive } from '../../local-agent/src/process-group.js';
import { agentBin, agentNode, engineBinDir, fastTimings, freePorts, mockStats, tempDir, waitFor } from './helpers';

// The real agent process (on the system's Node, 20 here), launching mock engines found
// on PATH as `vllm` — the same lookup as a real install — and serving them with --listen.

const node = agentNode();
const env = { ...process.env, PATH: `${engineBinDir}:${process.env.PATH}` };

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(node, [agentBin, ...args], { env }, (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }));
  });
}

describe('switchboard-agent CLI', () => {
  it('--version, --help, no command', async () => {
    expect((await run(['--version'])).stdout.trim()).toBe('0.1.0');
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('switchboard-agent start --config agent.yaml [--listen HOST:PORT]');
    expect((await run([])).code).toBe(2);
    expect((await run(['launch', '--config', 'x'])).stderr).toContain('unknown command "launch"');
  });

  it('a malformed config exits 2 with messages naming the fields', async () => {
    const dir = tempDir();
    const path = join(dir, 'agent.yaml');
    writeFileSync(path, stringify({ models: [{ name: 'q', engine: 'vllm', tp: 0, base_port: 9000 }] }));
    const result = await run(['start', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path} is invalid:`);
    expect(result.stderr).toContain('models[0].model: required for engine vllm');
    expect(result.stderr).toContain('models[0].tp: must be a positive integer');
    writeFileSync(path, 'models: [\n');
    expect((await run(['start', '--config', path])).stderr).toMatch(/not valid YAML/);
    expect((await run(['start', '--config', join(dir, 'missing.yaml')])).stderr).toMatch(/cannot read .*missing\.yaml: ENOENT/);
  });

  it('two models given the same GPU: a clear error before anything starts', async () => {
    const dir = tempDir();
    const path = join(dir, 'agent.yaml');
    writeFileSync(path, stringify({ gpus: [0, 1], models: [
      { name: 'a', engine: 'vllm', model: 'A', gpus: [0, 1], base_port: 9000 },
      { name: 'b', engine: 'vllm', model: 'B', gpus: [1], base_port: 9100 }] }));
    const result = await run(['start', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('models[1].gpus: GPU 1 is already given to model "a"; two models can never share a GPU');
  });
});

describe('switchboard-agent start --listen: the pools as an OpenAI-compatible endpoint', () => {
  let agent: ChildProcess;
  let output = '';
  let client: OpenAI;
  let base: number;
  let listenPort: number;
  let configPath: string;

  beforeAll(async () => {
    base = await freePorts(5);
    listenPort = base + 4;
    const dir = tempDir();
    configPath = join(dir, 'agent.yaml');
    writeFileSync(configPath, stringify({
      gpus: [0, 1, 2, 3],
      state_dir: 'state',
      ...fastTimings,
      models: [{
        name: 'qwen2-vl-7b', engine: 'vllm', model: 'Qwen/Qwen2-VL-7B-Instruct', replicas: 4, base_port: base,
        args: ['--max-model-len', 32000, '--trust-remote-code', '--limit-mm-per-prompt', '{"image": 10}'],
        env: { MOCK_READY_DELAY_MS: 100 }, readiness_timeout: '20s',
      }],
    }));
    agent = spawn(node, [agentBin, 'start', '--config', configPath, '--listen', `127.0.0.1:${listenPort}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stdout!.on('data', (c) => (output += c));
    agent.stderr!.on('data', (c) => (output += c));
    const url = `http://127.0.0.1:${listenPort}`;
    await waitFor(async () => {
      const status = await fetch(`${url}/agent/status`).then((r) => r.json(), () => null);
      return status?.replicas.every((r: any) => r.state === 'ready');
    }, 'the agent and its 4 replicas', 20_000).catch((e) => {
      throw new Error(`${e.message}\n${output}`);
    });
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(() => {
    if (agent.exitCode === null) agent.kill('SIGKILL');
  });

  it('lists the model and answers plain requests, spread over all 4 replicas', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['qwen2-vl-7b']);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'Hi' }] })),
    );
    for (const a of answers) {
      expect(a.object).toBe('chat.completion');
      expect(a.usage?.total_tokens).toBeGreaterThan(0);
    }
    const ports = new Set(answers.map((a) => a.choices[0].message.content!.split(' ').pop()));
    expect(ports).toEqual(new Set([0, 1, 2, 3].map((i) => String(base + i))));
  });

  it('streams chunks through unchanged, with usage, and passes engine-specific parameters', async () => {
    const stream = await client.chat.completions.create({
      model: 'qwen2-vl-7b',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }],
      stream: true,
      stream_options: { include_usage: true },
      // @ts-expect-error vLLM sampling parameters, passed through
      top_k: 20, repetition_penalty: 1.05,
    });
    let content = '';
    let usage: any = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      content += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(content).toMatch(/^Hello from vllm port \d+$/);
    expect(chunks).toBe(8);
    expect(usage.completion_tokens).toBe(5);
    const port = Number(content.split(' ').pop());
    expect((await mockStats(port)).lastBody).toMatchObject({ top_k: 20, repetition_penalty: 1.05, stream: true });
  });

  it('bodies of one frame (sent whole) and over it (streamed) reach the engine intact', async () => {
    for (const size of [100_000, 600_000]) {
      const answer = await client.chat.completions.create({
        model: 'qwen2-vl-7b',
        messages: [{ role: 'user', content: 'x'.repeat(size) }],
        // @ts-expect-error a vLLM sampling parameter, passed through
        top_k: size,
      });
      expect(answer.choices[0].message.content).toMatch(/^Hello from vllm port \d+$/);
      const port = Number(answer.choices[0].message.content!.split(' ').pop());
      expect((await mockStats(port)).lastBody).toMatchObject({ top_k: size });
    }
  });

  it('an engine error passes through; an unknown model is a 404 from the agent', async () => {
    const tooMany = Array.from({ length: 11 }, () => ({ type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }));
    await expect(client.chat.completions.create({ model: 'qwen2-vl-7b', messages: [{ role: 'user', content: tooMany }] })).rejects.toMatchObject({
      status: 400, message: expect.stringContaining('At most 10 image(s)'),
    });
    await expect(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 404, message: expect.stringContaining('The model "nope" is not served by this agent (it serves: qwen2-vl-7b)'),
    });
  });

  it('a client that aborts mid-stream cancels the engine request', async () => {
    const before = (await Promise.all([0, 1, 2, 3].map((i) => mockStats(base + i)))).reduce((n, s) => n + s.cancelled, 0);
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      // @ts-expect-error mock engine controls: a long, slow stream
      { model: 'qwen2-vl-7b', messages: [{ role: 'user', content: 'long' }], stream: true, mock_chunks: 500, mock_delay_ms: 10 },
      { signal: controller.signal },
    );
    let seen = 0;
    try {
      for await (const _ of stream) if (++seen === 3) controller.abort();
    } catch {
      // the SDK may end the iteration quietly or throw an abort error: either way the client is gone
    }
    expect(seen).toBe(3);
    await waitFor(async () => {
      const after = (await Promise.all([0, 1, 2, 3].map((i) => mockStats(base + i)))).reduce((n, s) => n + s.cancelled, 0);
      return after === before + 1;
    }, 'the engine to see the cancel');
  });

  it('`status` shows the replicas; SIGTERM stops every engine process and its workers', async () => {
    const status = await run(['status', '--config', configPath]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/agent pid \d+ running, serving on http:\/\/127\.0\.0\.1:\d+\/v1/);
    expect(status.stdout.match(/qwen2-vl-7b#\d +\d+ +\d +ready/g)).toHaveLength(4);

    const stats = await Promise.all([0, 1, 2, 3].map((i) => mockStats(base + i)));
    const pids = stats.flatMap((s) => [s.pid, s.childPid]);
    expect(pids.every((p) => isAlive(p))).toBe(true);
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(pids.filter((p) => isAlive(p))).toEqual([]);
    const after = await run(['status', '--config', configPath]);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/is not running/);
  });
});

describe('switchboard-agent start: SIGHUP reloads the models', () => {
  it('an added model starts, a removed one stops with its workers, an unchanged one keeps running', async () => {
    const base = await freePorts(4);
    const listenPort = base + 3;
    const dir = tempDir();
    const configPath = join(dir, 'agent.yaml');
    const model = (name: string, port: number, gpu: number) => ({ name, engine: 'vllm', model: `org/${name}`, base_port: port, gpus: [gpu] });
    writeFileSync(configPath, stringify({ gpus: [0, 1, 2], state_dir: 'state', ...fastTimings, models: [model('kept', base, 0), model('removed', base + 1, 1)] }));
    const agent = spawn(node, [agentBin, 'start', '--config', configPath, '--listen', `127.0.0.1:${listenPort}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    agent.stdout!.on('data', (c) => (output += c));
    agent.stderr!.on('data', (c) => (output += c));
    const url = `http://127.0.0.1:${listenPort}`;
    const served = async () => ((await fetch(`${url}/v1/models`).then((r) => r.json(), () => null))?.data ?? []).map((m: any) => m.id).sort().join(',');
    try {
      await waitFor(async () => (await served()) === 'kept,removed', 'both models ready', 20_000).catch((e) => {
        throw new Error(`${e.message}\n${output}`);
      });
      const kept = await mockStats(base);
      const removed = await mockStats(base + 1);

      writeFileSync(configPath, stringify({ gpus: [0, 1, 2], state_dir: 'state', ...fastTimings, models: [model('kept', base, 0), model('added', base + 2, 2)] }));
      agent.kill('SIGHUP');
      await waitFor(async () => (await served()) === 'added,kept', 'the reloaded models', 20_000).catch((e) => {
        throw new Error(`${e.message}\n${output}`);
      });
      expect([removed.pid, removed.childPid].filter((p) => isAlive(p))).toEqual([]);
      expect((await mockStats(base)).pid).toBe(kept.pid);
      expect(output).toMatch(/SIGHUP: reloaded .*1 replica\(s\) started \(added#0\), 1 stopped \(removed#0\)/);
      const answer = await new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 }).chat.completions.create({ model: 'added', messages: [{ role: 'user', content: 'Hi' }] });
      expect(answer.choices[0].message.content).toBe(`Hello from vllm port ${base + 2}`);

      // A config that no longer validates is reported and changes nothing.
      writeFileSync(configPath, 'models: [\n');
      agent.kill('SIGHUP');
      await waitFor(() => output.includes('not applied, the agent runs on as it was'), 'the refusal');
      expect(await served()).toBe('added,kept');

      const added = await mockStats(base + 2);
      const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
      agent.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect([kept.pid, kept.childPid, added.pid, added.childPid].filter((p) => isAlive(p))).toEqual([]);
    } finally {
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
  });
});
