import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startGateway, type Gateway } from '../helpers/gateway';
import { collectValidChunks } from '../helpers/schema';
import { agentBin, agentNode, engineBinDir, fastTimings, freePorts, mockStats, tempDir, waitFor, stopAgent } from './helpers';
import type { UsageRow } from '../../src/usage/usage-store';

// Usage accounting for on-prem models (issue 5): the real gateway (Miniflare, D1 migrated),
// a real agent process and mock vLLM replicas. The pass-through path never parses the body,
// so the meter learns the deployment from it, reads the tokens from the engine's answer,
// and for a stream the agent asks the engine for its usage chunk (include_usage) when the
// client did not, which the gateway takes out again.

const TOKEN = 'agent-token-for-onprem-usage-tests';
const ADMIN_TOKEN = 'switchboard-admin-test-token-onprem-usage';
let gateway: Gateway;
let agent: ChildProcess;
let output = '';
let base: number;

/** A usage row as D1 returns it (SQLite has no booleans). */
type Row = Omit<UsageRow, 'streamed'> & { streamed: number };

async function createKey(name: string, limits: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const res = await fetch(`${gateway.url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, ...limits }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}

/** The key's usage rows, once there are `count` (written after each response). */
async function rows(keyId: string, count: number): Promise<Row[]> {
  const db = await gateway.mf.getD1Database('DB');
  for (let i = 0; i < 500; i++) {
    const { results } = await db.prepare('SELECT * FROM usage WHERE key_id = ? ORDER BY id').bind(keyId).all<Row>();
    if (results.length >= count) return results;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fewer than ${count} usage rows for ${keyId}`);
}

const messages = [{ role: 'user' as const, content: 'Describe the screen.' }];
/** The mock engine's prompt tokens for these messages (test/engines/mock-engine.mjs). */
const promptTokens = (m: unknown) => JSON.stringify(m).length >> 2;
const clientFor = (key: string) => new OpenAI({ apiKey: key, baseURL: gateway.baseURL, maxRetries: 0 });

beforeAll(async () => {
  gateway = await startGateway({
    AGENT_TOKENS: TOKEN,
    ADMIN_TOKEN,
    PRICES: JSON.stringify({ 'onprem/qwen-priced': { input: 1, output: 2 } }),
  });
  base = await freePorts(2);
  const dir = tempDir();
  const configPath = join(dir, 'agent.yaml');
  writeFileSync(configPath, stringify({
    gpus: [0, 1], state_dir: 'state', ...fastTimings,
    gateway: { url: gateway.url.replace(/^http/, 'ws'), heartbeat: '1s', reconnect_initial: '20ms', reconnect_max: '200ms', name: 'gpu-box-usage' },
    models: [
      { name: 'qwen-priced', engine: 'vllm', model: 'Qwen/Qwen2-VL-7B-Instruct', replicas: 1, base_port: base },
      { name: 'llama-free', engine: 'vllm', model: 'meta-llama/Llama-3.1-8B-Instruct', replicas: 1, base_port: base + 1 },
    ],
  }));
  agent = spawn(agentNode(), [agentBin, 'start', '--config', configPath], {
    env: { ...process.env, PATH: `${engineBinDir}:${process.env.PATH}`, SWITCHBOARD_AGENT_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent.stdout!.on('data', (c) => (output += c));
  agent.stderr!.on('data', (c) => (output += c));
  const { key } = await createKey('probe');
  const probe = clientFor(key);
  await waitFor(async () => {
    try {
      await Promise.all(['qwen-priced', 'llama-free'].map((model) => probe.chat.completions.create({ model, messages })));
      return true;
    } catch {
      return false;
    }
  }, 'both on-prem models answering', 30_000).catch((e) => {
    throw new Error(`${e.message}\n${output}`);
  });
}, 60_000);

afterAll(async () => {
  await stopAgent(agent); // stops its engines too
  await gateway?.close();
});

describe('on-prem usage accounting', () => {
  it('a plain request: the deployment, the engine\'s tokens, and the cost from a PRICES override', async () => {
    const { id, key } = await createKey('onprem-plain');
    const answer = await clientFor(key).chat.completions.create({ model: 'qwen-priced', messages });
    expect(answer.choices[0].message.content).toMatch(/^Hello from vllm port \d+$/);
    expect((await mockStats(base)).lastBody.stream_options).toBeUndefined(); // a request that does not stream is left alone
    const [row] = await rows(id, 1);
    const prompt = promptTokens(messages);
    expect(row).toMatchObject({
      model: 'qwen-priced',
      deployment: expect.stringContaining('qwen-priced'),
      provider_model: 'onprem/qwen-priced',
      prompt_tokens: prompt,
      completion_tokens: 5,
      status: 200,
      streamed: 0,
      error_type: null,
      note: null,
    });
    expect(answer.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 5 });
    expect(row.cost_usd).toBeCloseTo((prompt * 1 + 5 * 2) / 1e6, 12);
  });

  it('a model without a price: tokens counted, cost 0 with a note', async () => {
    const { id, key } = await createKey('onprem-free');
    await clientFor(key).chat.completions.create({ model: 'llama-free', messages });
    const [row] = await rows(id, 1);
    expect(row).toMatchObject({ provider_model: 'onprem/llama-free', prompt_tokens: promptTokens(messages), completion_tokens: 5, cost_usd: 0, note: 'no price for onprem/llama-free: cost recorded as 0' });
  });

  it('a stream whose client did not ask for usage: the agent asks the engine, the gateway takes the chunk out and counts it', async () => {
    const { id, key } = await createKey('onprem-stream');
    const chunks = await collectValidChunks(await clientFor(key).chat.completions.create({ model: 'qwen-priced', stream: true, messages }));
    expect((await mockStats(base)).lastBody.stream_options).toEqual({ include_usage: true });
    expect(chunks.some((c) => c.choices.length === 0 || c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toMatch(/^Hello from vllm port \d+$/);
    const [row] = await rows(id, 1);
    expect(row).toMatchObject({ provider_model: 'onprem/qwen-priced', prompt_tokens: promptTokens(messages), completion_tokens: 5, status: 200, streamed: 1, error_type: null });
    expect(row.cost_usd).toBeGreaterThan(0);
  });

  it('a stream whose client asked for usage keeps its usage chunk', async () => {
    const { id, key } = await createKey('onprem-stream-usage');
    const chunks = await collectValidChunks(await clientFor(key).chat.completions.create({ model: 'qwen-priced', stream: true, stream_options: { include_usage: true }, messages }));
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 5 } });
    const [row] = await rows(id, 1);
    expect(row).toMatchObject({ prompt_tokens: promptTokens(messages), completion_tokens: 5, streamed: 1 });
  });

  it('a streamed request bigger than one tunnel frame (its body streamed to the agent) is counted too', async () => {
    const { id, key } = await createKey('onprem-big-stream');
    const big = [{ role: 'user' as const, content: 'z'.repeat(600 * 1024) }];
    const chunks = await collectValidChunks(await clientFor(key).chat.completions.create({ model: 'qwen-priced', stream: true, messages: big }));
    expect(chunks.some((c) => c.choices.length === 0 || c.usage)).toBe(false);
    const [row] = await rows(id, 1);
    expect(row).toMatchObject({ prompt_tokens: promptTokens(big), completion_tokens: 5, streamed: 1 });
  });

  it('a key with a tpm limit is charged the on-prem tokens: over it, the next request is refused (429)', async () => {
    const { key } = await createKey('onprem-tpm', { tpm: 10 });
    const client = clientFor(key);
    await client.chat.completions.create({ model: 'llama-free', messages }); // 12 prompt + 5 completion tokens: over the limit once charged
    let refused: any;
    await waitFor(async () => {
      try {
        await client.chat.completions.create({ model: 'llama-free', messages });
        return false;
      } catch (error) {
        refused = error;
        return true;
      }
    }, 'a 429 once the tokens are charged', 10_000);
    expect(refused).toMatchObject({ status: 429 });
  });
});
