import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { closeAgent, concurrent, emptySamples, percentile, send, sequential, summarize, type SampleStats, type Samples, type Target, type Timing } from './load.ts';
import { printTop, userWorkerInspector } from './cpu-profile.ts';
import { benchmarkRequest } from './request.ts';
import { cpuMicros, floorToml, freePort, gatewayToml, root, rssMiB, startMiniflare, type RunningWorker } from './runtimes.ts';

// The on-prem case: the gateway (Miniflare, with the OnPremModel Durable Object from
// wrangler.toml) → the tunnel → a real switchboard-agent process (system Node) → one mock
// vLLM replica it starts (test/engines/bin/vllm), beside calling that replica directly,
// through the agent's own --listen endpoint, through a bare forwarding Worker in the
// same runtime (the floor), and through that floor to the agent's --listen (both hops,
// without the Durable Object and the WebSocket). Then 1,000 streams at once over the one agent connection,
// and a 20 MB request body through the tunnel with the processes' RSS sampled meanwhile.

export const ONPREM = {
  model: 'bench-onprem',
  concurrency: 64,
  streamEvents: 300,
  /**
   * The burst: streams opened at once, each `chunks` events `delayMs` apart at the engine (12 s), so that all
   * are open together although the gateway takes several seconds to accept 1,000 on 2 cores.
   */
  burst: { streams: 1000, chunks: 48, delayMs: 250 },
  bigBodyMiB: 20,
};

const PLAN = {
  full: { seqWarm: 30, seqCount: 600, rounds: 3, concWarmMs: 400, concMs: 1200, concRounds: 3, streamWarm: 5, streamCount: 60, smallRepeats: 10, bigRepeats: 3 },
  quick: { seqWarm: 10, seqCount: 90, rounds: 3, concWarmMs: 200, concMs: 500, concRounds: 2, streamWarm: 3, streamCount: 21, smallRepeats: 5, bigRepeats: 2 },
};

export const TOKEN = 'agent-token-for-the-bench';
const GATEWAY = 'gateway → tunnel';
/** A bare Worker forwarding to the agent's --listen: both hops over plain HTTP, without the Durable Object and the WebSocket. */
export const FLOOR_TO_AGENT = 'floor → agent --listen';
const engineBinDir = join(root, 'test/engines/bin');

export type OnPremStats = SampleStats;

export interface OnPremBurst {
  target: string;
  streams: number;
  /** 200, every event, and [DONE]. */
  completed: number;
  failures: Record<string, number>;
  seconds: number;
  p50: number;
  p99: number;
  /** Most requests the engine had in flight at once (sampled from its /mock/stats every 20 ms). */
  peakEngineInFlight: number;
  rss: { agentBefore: number; agentPeak: number; agentAfter: number; workerdBefore: number; workerdPeak: number; workerdAfter: number };
}

export interface OnPremBody {
  label: string;
  bytes: number;
  requests: number;
  errors: number;
  /** Median time of one request through the gateway, ms. */
  p50: number;
  /** Same request sent to the engine directly, ms. */
  directP50: number;
  agentBaseline: number;
  agentPeak: number;
  workerdBaseline: number;
  workerdPeak: number;
}

export interface OnPremResult {
  runtime: 'miniflare';
  agentNode: string;
  config: typeof ONPREM & { requestBytes: number; plan: (typeof PLAN)['full'] };
  labels: string[];
  /** Sequential rounds: CPU per request of each process on the path (µs; engine, agent, the Worker's workerd). */
  sequential: Record<string, OnPremStats & { cpu: { engine: number; agent: number; workerd: number } }>;
  concurrent: Record<string, OnPremStats & { rps: number }>;
  stream: Record<string, { firstChunk: OnPremStats; total: OnPremStats; reads: number }>;
  bursts: OnPremBurst[];
  bodies: OnPremBody[];
}

/** The first `node` on PATH outside node_modules (the system's): the agent is meant to run on Node 20, not on the Node 22 npm runs this with. */
export function systemNode(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir || dir.includes('node_modules')) continue;
    try {
      execFileSync(join(dir, 'node'), ['--version']);
      return join(dir, 'node');
    } catch {
      // not here
    }
  }
  return process.execPath;
}

export interface RunningAgent {
  pid: number;
  enginePid: number;
  listenUrl: string;
  engineUrl: string;
  output: () => string;
  stop(): Promise<void>;
}

/** A real switchboard-agent (from `checkout`'s local-agent/) with one mock vLLM replica, dialing the gateway at `gatewayUrl`, also serving --listen. */
export async function startAgent(dir: string, gatewayUrl: string, gatewayKey: string, node: string, checkout = root): Promise<RunningAgent> {
  const agentBin = join(checkout, 'local-agent/bin/switchboard-agent.js');
  mkdirSync(dir, { recursive: true });
  const enginePort = await freePort();
  const listenPort = await freePort();
  const configPath = join(dir, 'agent.yaml');
  // JSON is YAML.
  writeFileSync(
    configPath,
    JSON.stringify({
      gpus: [0],
      state_dir: join(dir, 'state'),
      stop_grace: '2s',
      ready_poll: '50ms',
      gateway: { url: gatewayUrl.replace(/^http/, 'ws'), name: 'bench-box' },
      models: [
        {
          name: ONPREM.model,
          engine: 'vllm',
          model: 'bench/mock-vl',
          replicas: 1,
          base_port: enginePort,
          args: ['--limit-mm-per-prompt', '{"image": 10}'],
          env: { MOCK_NO_CHILD: '1' }, // no stand-in GPU worker process: nothing here measures it
        },
      ],
    }),
  );
  // The engine stand-in runs on the same system Node as the agent, as it would on a GPU box.
  const path = [engineBinDir, ...(process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules'))].join(':');
  let output = '';
  // For looking inside the agent: AGENT_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--trace-gc"), AGENT_LOG=<file> for its output.
  const nodeFlags = (process.env.AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(node, [...nodeFlags, agentBin, 'start', '--config', configPath, '--listen', `127.0.0.1:${listenPort}`], {
    env: { ...process.env, PATH: path, SWITCHBOARD_AGENT_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = process.env.AGENT_LOG;
  const keep = (d: Buffer) => {
    output = (output + d).slice(-8000);
    if (log) appendFileSync(log, d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // Cut short: SIGTERM makes the agent stop its engine's process group before it exits.
  const onExit = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.once('exit', onExit);
  const engineUrl = `http://127.0.0.1:${enginePort}`;
  let enginePid = 0;
  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    // The agent stops its engine; should it not have, the engine is stopped here.
    if (enginePid) {
      try {
        process.kill(enginePid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the agent exited (${child.exitCode}):\n${output}`);
      if (Date.now() > deadline) throw new Error(`the agent did not serve ${ONPREM.model} through the gateway within 30 s:\n${output}`);
      const online = await Promise.all([
        getJson(`${gatewayUrl}/v1/models`, { authorization: `Bearer ${gatewayKey}` }),
        getJson(`http://127.0.0.1:${listenPort}/v1/models`),
      ]).catch(() => null);
      if (online?.every((list) => list?.data?.some((m: { id: string }) => m.id === ONPREM.model))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    enginePid = (await getJson(`${engineUrl}/mock/stats`)).pid;
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid!, enginePid, listenUrl: `http://127.0.0.1:${listenPort}`, engineUrl, output: () => output, stop };
}

async function getJson(url: string, headers: Record<string, string> = {}): Promise<any> {
  const response = await fetch(url, { headers });
  return response.ok ? response.json() : null;
}

/** Samples the RSS of the agent and of workerd every `everyMs` until stopped; returns the peaks. */
function rssSampler(agentPid: number, workerdPids: number[], everyMs = 5) {
  let agentPeak = rssMiB([agentPid]);
  let workerdPeak = rssMiB(workerdPids);
  const sample = () => {
    agentPeak = Math.max(agentPeak, rssMiB([agentPid]));
    workerdPeak = Math.max(workerdPeak, rssMiB(workerdPids));
  };
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return { agentPeak, workerdPeak };
    },
  };
}

export async function onpremBench(dir: string, gatewayKey: string, images: Buffer[], quick = false): Promise<OnPremResult> {
  const plan = quick ? PLAN.quick : PLAN.full;
  const node = systemNode();
  const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const started: { close(): Promise<void> }[] = [];
  try {
    const inspectorPort = process.env.ONPREM_PROFILE ? await freePort() : undefined;
    const gateway = await startMiniflare(join(dir, 'gateway'), {
      name: 'gateway',
      main: join(root, 'src/index.ts'),
      toml: gatewayToml(),
      migrate: !process.env.BENCH_NO_USAGE,
      inspectorPort,
      devVars: { GATEWAY_KEYS: gatewayKey, AGENT_TOKENS: TOKEN },
    });
    started.push(gateway);
    const agent = await startAgent(join(dir, 'agent'), gateway.url, gatewayKey, node);
    started.push({ close: agent.stop });
    const startFloor = async (name: string, upstreamUrl: string): Promise<RunningWorker> => {
      const worker = await startMiniflare(join(dir, name), { name: 'floor', main: join(root, 'bench/floor-worker.ts'), toml: floorToml(), devVars: { UPSTREAM_URL: upstreamUrl } });
      started.push(worker);
      return worker;
    };
    const floor = await startFloor('floor', agent.engineUrl);
    // Both hops over plain HTTP (a bare Worker forwarding to the agent's --listen): the path without the Durable Object and the WebSocket.
    const floorToAgent = await startFloor('floor-agent', agent.listenUrl);

    const auth = { authorization: `Bearer ${gatewayKey}` };
    const body = (extra: Record<string, unknown>, stream: boolean) => Buffer.from(JSON.stringify({ ...benchmarkRequest(ONPREM.model, stream, images), ...extra }));
    const targetsFor = (payload: Buffer): Target[] => [
      { label: 'direct (engine)', url: agent.engineUrl, path: '/v1/chat/completions', body: payload, headers: {} },
      { label: 'agent --listen', url: agent.listenUrl, path: '/v1/chat/completions', body: payload, headers: {} },
      { label: 'miniflare floor', url: floor.url, path: '/v1/chat/completions', body: payload, headers: {} },
      { label: FLOOR_TO_AGENT, url: floorToAgent.url, path: '/v1/chat/completions', body: payload, headers: {} },
      { label: GATEWAY, url: gateway.url, path: '/v1/chat/completions', body: payload, headers: auth },
    ];
    const plain = targetsFor(body({}, false));
    const streaming = targetsFor(body({ mock_chunks: ONPREM.streamEvents }, true));
    // Every path must answer the engine's completion, or its numbers mean nothing.
    for (const t of plain) check(t, await send(t, true), (text) => (/^Hello from vllm/.test(JSON.parse(text).choices?.[0]?.message?.content ?? '') ? null : 'no completion from the engine'));
    for (const t of streaming) check(t, await send(t, true), (text) => streamProblem(text, ONPREM.streamEvents));

    const rotate = <T>(items: T[], by: number) => items.map((_, i) => items[(i + by) % items.length]);
    for (const t of plain) await sequential(t, plan.seqWarm);
    const seq = new Map(plain.map((t) => [t.label, emptySamples()]));
    // CPU per request of every process a path goes through (from /proc): what the p50s are made of, and steadier than they are.
    const workerOf = new Map([['miniflare floor', floor], [FLOOR_TO_AGENT, floorToAgent], [GATEWAY, gateway]]);
    const cpu = new Map(plain.map((t) => [t.label, { engine: 0, agent: 0, workerd: 0 }]));
    const processes = (label: string) => ({ engine: [agent.enginePid], agent: [agent.pid], workerd: workerOf.get(label)?.pids().workerd ?? [] });
    for (let r = 0; r < plan.rounds; r++)
      for (const t of rotate(plain, r)) {
        const before = Object.entries(processes(t.label)).map(([name, pids]) => [name, pids, cpuMicros(pids)] as const);
        await sequential(t, Math.ceil(plan.seqCount / plan.rounds), seq.get(t.label));
        const sum = cpu.get(t.label)!;
        for (const [name, pids, micros] of before) sum[name as keyof typeof sum] += cpuMicros(pids) - micros;
      }
    // ONPREM_PROFILE=n: a V8 profile of the gateway's Worker and Durable Object over n more sequential requests, summarised per request.
    if (process.env.ONPREM_PROFILE) {
      const inspector = await userWorkerInspector(inspectorPort!);
      const n = Number(process.env.ONPREM_PROFILE) || 1000;
      await sequential(plain.find((t) => t.label === GATEWAY)!, n);
      printTop(await inspector.stop(), n, 40);
    }
    const perRequest = (label: string) => {
      const n = seq.get(label)!.total.length;
      return Object.fromEntries(Object.entries(cpu.get(label)!).map(([name, micros]) => [name, micros / n])) as { engine: number; agent: number; workerd: number };
    };

    const conc = new Map(plain.map((t) => [t.label, { samples: emptySamples(), completed: 0, seconds: 0 }]));
    for (const t of plain) await concurrent(t, ONPREM.concurrency, plan.concWarmMs);
    for (let r = 0; r < plan.concRounds; r++) {
      for (const t of rotate(plain, r)) {
        const acc = conc.get(t.label)!;
        const run = await concurrent(t, ONPREM.concurrency, plan.concMs, acc.samples);
        acc.completed += run.completed;
        acc.seconds += run.seconds;
      }
    }

    for (const t of streaming) await sequential(t, plan.streamWarm);
    const str = new Map(streaming.map((t) => [t.label, emptySamples()]));
    for (let r = 0; r < plan.rounds; r++) for (const t of rotate(streaming, r)) await sequential(t, Math.ceil(plan.streamCount / plan.rounds), str.get(t.label));

    const workerdPids = gateway.pids().workerd;
    const bodies = await bodyMemory(plain, agent, workerdPids, plan);
    const bursts = [await burst(plain.find((t) => t.label === GATEWAY)!, agent, workerdPids)];

    const stats = summarize;
    return {
      runtime: 'miniflare',
      agentNode: nodeVersion,
      config: { ...ONPREM, requestBytes: plain[0].body.length, plan },
      labels: plain.map((t) => t.label),
      sequential: Object.fromEntries([...seq].map(([label, s]) => [label, { ...stats(s, 'total'), cpu: perRequest(label) }])),
      concurrent: Object.fromEntries([...conc].map(([label, c]) => [label, { ...stats(c.samples, 'total'), rps: c.completed / c.seconds }])),
      stream: Object.fromEntries([...str].map(([label, s]) => [label, { firstChunk: stats(s, 'firstChunk'), total: stats(s, 'total'), reads: percentile(s.reads, 50) }])),
      bursts,
      bodies,
    };
  } finally {
    // Agent first (it stops its engine), then the Workers; each even when another failed.
    for (const s of started.reverse()) await s.close().catch(() => {});
  }
}

function check(t: Target, r: Timing, problem: (text: string) => string | null) {
  let why: string | null;
  try {
    why = r.status === 200 ? problem(r.body ?? '') : `HTTP ${r.status}: ${(r.body ?? '').slice(0, 300)}`;
  } catch (error) {
    why = `unreadable answer (${(error as Error).message})`;
  }
  if (why) throw new Error(`${t.label}: ${why}`);
}

/** null when the text is an OpenAI stream of `events` content chunks ending in [DONE]. */
function streamProblem(text: string, events: number): string | null {
  const data = text.split(/\n\n/).filter((e) => e.startsWith('data: '));
  if (data.at(-1) !== 'data: [DONE]') return 'stream does not end with [DONE]';
  let content = 0;
  for (const e of data.slice(0, -1)) {
    const chunk = JSON.parse(e.slice(6));
    if (chunk.error) return `error chunk: ${chunk.error.message}`;
    if (chunk.choices?.[0]?.delta?.content) content++;
  }
  return content === events ? null : `${content} content chunks, expected ${events}`;
}

/**
 * Peak RSS of the agent and of workerd while small requests (the benchmark request) go
 * through the gateway, then while 20 MB ones do: a body held whole somewhere shows as a
 * peak that grows with it.
 */
async function bodyMemory(
  plain: Target[],
  agent: RunningAgent,
  workerdPids: number[],
  plan: (typeof PLAN)['full'],
): Promise<OnPremBody[]> {
  const [direct, , , gateway] = plain;
  // The benchmark request with a long text attachment in the last turn, to 20 MiB (and three times that) in all.
  const small = gateway.body;
  const padded = (mib: number) => {
    const request = JSON.parse(small.toString('utf8'));
    const padding = mib * 1024 * 1024 - small.length - '{"type":"text","text":""}'.length - 8;
    const last = request.messages.at(-1);
    last.content = [{ type: 'text', text: last.content }, { type: 'text', text: 'log line of the page under test; '.repeat(Math.ceil(padding / 33)).slice(0, padding) }];
    return Buffer.from(JSON.stringify(request));
  };
  const big = padded(ONPREM.bigBodyMiB);
  const huge = padded(ONPREM.bigBodyMiB * 3);

  const out: OnPremBody[] = [];
  for (const [label, payload, repeats] of [
    [`benchmark request (${(small.length / 1024).toFixed(0)} KiB)`, small, plan.smallRepeats],
    [`${(big.length / 1024 / 1024).toFixed(0)} MiB body`, big, plan.bigRepeats],
    [`${(huge.length / 1024 / 1024).toFixed(0)} MiB body`, huge, plan.bigRepeats],
  ] as const) {
    const t: Target = { ...gateway, body: payload };
    const d: Target = { ...direct, body: payload };
    check(t, await send(t, true), (text) => (JSON.parse(text).usage?.prompt_tokens > 0 ? null : 'no usage'));
    const times: number[] = [];
    const directTimes: number[] = [];
    let errors = 0;
    await new Promise((r) => setTimeout(r, 300)); // let the previous phase's garbage settle a little
    const agentBaseline = rssMiB([agent.pid]);
    const workerdBaseline = rssMiB(workerdPids);
    const sampler = rssSampler(agent.pid, workerdPids);
    for (let i = 0; i < repeats; i++) {
      const r = await send(t).catch(() => null);
      if (r?.status === 200) times.push(r.total);
      else errors++;
    }
    const peaks = sampler.stop();
    for (let i = 0; i < repeats; i++) {
      const r = await send(d).catch(() => null);
      if (r?.status === 200) directTimes.push(r.total);
    }
    out.push({
      label,
      bytes: payload.length,
      requests: repeats,
      errors,
      p50: percentile(times, 50),
      directP50: percentile(directTimes, 50),
      agentBaseline,
      agentPeak: peaks.agentPeak,
      workerdBaseline,
      workerdPeak: peaks.workerdPeak,
    });
  }
  return out;
}

/** ONPREM.burst.streams streams opened at once (new connections), each checked to the last event. */
async function burst(base: Target, agent: RunningAgent, workerdPids: number[]): Promise<OnPremBurst> {
  const { streams, chunks, delayMs } = ONPREM.burst;
  const sockets = new Agent({ keepAlive: false, maxSockets: Infinity });
  // A short request: what is measured is many streams open at once, not request parsing.
  const target: Target = {
    ...base,
    agent: sockets,
    body: Buffer.from(JSON.stringify({ model: ONPREM.model, messages: [{ role: 'user', content: 'Step 4: is the task done?' }], stream: true, mock_chunks: chunks, mock_delay_ms: delayMs })),
  };
  closeAgent();
  const before = { agent: rssMiB([agent.pid]), workerd: rssMiB(workerdPids) };
  let peakEngineInFlight = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const stats = await getJson(`${agent.engineUrl}/mock/stats`).catch(() => null);
      if (stats) peakEngineInFlight = Math.max(peakEngineInFlight, stats.inFlight);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const sampler = rssSampler(agent.pid, workerdPids, 20);
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: streams }, () => send(target, true).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))));
  const seconds = (performance.now() - start) / 1000;
  const peaks = sampler.stop();
  polling = false;
  await poll;
  sockets.destroy();
  const failures: Record<string, number> = {};
  const totals: number[] = [];
  for (const r of results) {
    const problem = r instanceof Error ? r.message : r.status !== 200 ? `HTTP ${r.status}` : streamProblem(r.body ?? '', chunks);
    if (problem) failures[problem] = (failures[problem] ?? 0) + 1;
    else totals.push((r as Timing).total);
  }
  return {
    target: base.label,
    streams,
    completed: totals.length,
    failures,
    seconds,
    p50: percentile(totals, 50),
    p99: percentile(totals, 99),
    peakEngineInFlight,
    rss: {
      agentBefore: before.agent,
      agentPeak: peaks.agentPeak,
      agentAfter: rssMiB([agent.pid]),
      workerdBefore: before.workerd,
      workerdPeak: peaks.workerdPeak,
      workerdAfter: rssMiB(workerdPids),
    },
  };
}
