import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeAgent, concurrent, emptySamples, percentile, send, sequential, summarize, type Samples, type Target } from './load.ts';
import { startMockUpstream, type MockUpstream } from './mock-client.ts';
import { printReport, type BenchResult, type CaseResult, type Stats } from './report.ts';
import { benchmarkRequest, screenshots } from './request.ts';
import {
  cpuMicros,
  floorToml,
  gatewayToml,
  root,
  rssMiB,
  startMiniflare,
  startWranglerDev,
  type RunningWorker,
  type WorkerSpec,
} from './runtimes.ts';
import { onpremBench, type OnPremResult } from './onprem.ts';
import { resilienceBench, type ResilienceResult } from './resilience.ts';
import { translationBench } from './translation.ts';
import { STREAM_EVENTS } from './upstream-responses.ts';
import { BENCH_MODELS } from './models.ts';

// `npm run bench [-- --quick] [-- --runtimes=wrangler,miniflare] [-- --cases=openai,anthropic,gemini,resilience,onprem]`
//
// Measures, in one run and against a zero-latency mock upstream, the gateway beside
// the floor (a bare forwarding Worker in the same runtime) and beside calling the mock
// directly, under `wrangler dev` and under Miniflare driven directly. Everything is
// reported as overheads and ratios; nothing here fails on a number. The resilience
// case (resilience.ts) runs a burst against a rate-limited alias beside a clean one,
// under Miniflare. The on-prem case (onprem.ts) runs the gateway → tunnel → agent →
// engine path beside the engine called directly, under Miniflare.

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string?]));
const quick = args.has('quick');
const runtimesWanted = (args.get('runtimes') ?? 'wrangler,miniflare').split(',');
const casesWanted = (args.get('cases') ?? 'openai,anthropic,gemini,resilience,onprem').split(',');

const PLAN = quick
  ? { seqWarm: 10, seqCount: 100, rounds: 2, concWarmMs: 200, concMs: 500, concRounds: 2, streamWarm: 3, streamCount: 20 }
  : { seqWarm: 40, seqCount: 500, rounds: 5, concWarmMs: 500, concMs: 1500, concRounds: 3, streamWarm: 10, streamCount: 100 };
const CONCURRENCY = 32;
const GATEWAY_KEY = 'sk-switchboard-bench-key';

type CaseName = 'openai' | 'anthropic' | 'gemini';
const CASES: { name: CaseName; label: string; model: string }[] = [
  { name: 'openai', label: `OpenAI pass-through (${BENCH_MODELS.openai})`, model: BENCH_MODELS.openai },
  { name: 'anthropic', label: `Claude translation (${BENCH_MODELS.anthropic})`, model: BENCH_MODELS.anthropic },
  { name: 'gemini', label: `Gemini translation (${BENCH_MODELS.gemini})`, model: BENCH_MODELS.gemini },
];

const log = (message: string) => process.stderr.write(`${message}\n`);

async function main() {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const running: RunningWorker[] = [];
  let mock: MockUpstream | undefined;
  const cleanup = async () => {
    await Promise.allSettled(running.map((w) => w.close()));
    await mock?.close().catch(() => {});
    closeAgent();
    rmSync(work, { recursive: true, force: true });
  };
  process.once('exit', () => rmSync(work, { recursive: true, force: true })); // also when cut short
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  try {
    const images = screenshots();
    const bodies = Object.fromEntries(
      CASES.flatMap((c) => [
        [c.name, JSON.stringify(benchmarkRequest(c.model, false, images))],
        [`${c.name}Stream`, JSON.stringify(benchmarkRequest(c.model, true, images))],
      ]),
    );
    log(`request body: ${(bodies.openai.length / 1024).toFixed(0)} KiB (3 × ${images.map((i) => i.length).join('/')} byte PNGs as base64)`);
    const providerCases = CASES.filter((c) => casesWanted.includes(c.name));

    if (providerCases.length) log('translation microbenchmark (Node in-process, then inside workerd) …');
    const translation = await (providerCases.length ? translationBench(join(work, 'translation'), bodies, quick ? 500 : 1500) : Promise.resolve({ results: [], skipped: [] })).catch(
      (error) => ({
        results: [],
        skipped: [],
        failed: firstLines(error instanceof Error ? error.message : String(error)),
      }),
    );

    mock = await startMockUpstream();
    const secrets = {
      GATEWAY_KEYS: GATEWAY_KEY,
      OPENAI_API_KEY: 'sk-bench-openai',
      OPENAI_BASE_URL: `${mock.url}/v1`,
      ANTHROPIC_API_KEY: 'sk-ant-bench',
      ANTHROPIC_BASE_URL: mock.url,
      GEMINI_API_KEY: 'gemini-bench-key',
      GEMINI_BASE_URL: mock.url,
    };
    const specs: WorkerSpec[] = [
      { name: 'floor', main: join(root, 'bench/floor-worker.ts'), toml: floorToml(), devVars: { UPSTREAM_URL: mock.url } },
      { name: 'gateway', main: join(root, 'src/index.ts'), toml: gatewayToml(), devVars: secrets, migrate: process.env.BENCH_NO_USAGE ? false : true },
      // The gateway's translation alone (bare-translator.ts), to split its overhead into translating and the rest.
      { name: 'translator', main: join(root, 'bench/bare-translator.ts'), toml: gatewayToml(), devVars: secrets },
    ];
    const skipped: { case: string; reason: string }[] = [];
    for (const runtime of providerCases.length ? runtimesWanted : []) {
      const started: RunningWorker[] = []; // this runtime's workers
      for (const spec of specs) {
        log(`starting ${spec.name} under ${runtime} …`);
        const dir = join(work, `${runtime}-${spec.name}`);
        try {
          started.push(runtime === 'wrangler' ? await startWranglerDev(dir, spec) : await startMiniflare(dir, spec));
        } catch (error) {
          // A runtime that cannot run the gateway (or the floor) is reported, and the other one still measured.
          const reason = `${spec.name} failed to start: ${firstLines(error instanceof Error ? error.message : String(error))}`;
          log(`${runtime}: ${reason}`);
          skipped.push({ case: `everything under ${runtime}`, reason });
          await Promise.allSettled(started.map((w) => w.close()));
          started.length = 0;
          break;
        }
      }
      running.push(...started);
    }
    if (providerCases.length && !running.some((w) => w.worker === 'gateway')) throw new Error(`no runtime could run the gateway:\n${skipped.map((s) => s.reason).join('\n')}`);

    const cases: CaseResult[] = [];
    for (const c of providerCases) {
      const prepared = await prepareCase(c, bodies, running, mock);
      if ('skip' in prepared) {
        log(`skipping ${c.label}: ${prepared.skip}`);
        skipped.push({ case: c.label, reason: prepared.skip });
        continue;
      }
      log(`measuring ${c.label} …`);
      cases.push({ name: c.name, label: c.label, checks: prepared.checks, ...(await measureCase(prepared.targets, prepared.streamTargets, running)) });
    }

    // The cloud cases' runtimes are measured "after load" now, then stopped: the cases after them start their own, on a machine otherwise idle.
    const memory = running.map((w) => {
      const pids = w.pids();
      return { runtime: w.runtime, worker: w.worker, workerdRssMiB: rssMiB(pids.workerd), nodeRssMiB: rssMiB(pids.node), workerdProcesses: pids.workerd.length };
    });
    await Promise.allSettled(running.splice(0).map((w) => w.close()));

    let resilience: ResilienceResult | undefined;
    if (casesWanted.includes('resilience')) {
      log('measuring resilience: bursts at a rate-limited alias and at a clean one (Miniflare) …');
      resilience = await resilienceBench(join(work, 'miniflare-resilience'), mock, GATEWAY_KEY, images, quick).catch((error) => {
        skipped.push({ case: 'resilience', reason: firstLines(error instanceof Error ? error.message : String(error)) });
        return undefined;
      });
    }

    let onprem: OnPremResult | undefined;
    if (casesWanted.includes('onprem')) {
      log('measuring on-prem: gateway → tunnel → agent → mock vLLM, beside the engine directly (Miniflare) …');
      onprem = await onpremBench(join(work, 'onprem'), GATEWAY_KEY, images, quick).catch((error) => {
        skipped.push({ case: 'onprem', reason: firstLines(error instanceof Error ? error.message : String(error), 12) });
        return undefined;
      });
    }

    const result: BenchResult = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', loadavgAtEnd: loadavg(), node: process.version },
      plan: { ...PLAN, concurrency: CONCURRENCY, streamEvents: STREAM_EVENTS, quick },
      requestBytes: bodies.openai.length,
      translation: translation.results,
      cases,
      ...(resilience ? { resilience } : {}),
      ...(onprem ? { onprem } : {}),
      skipped: [
        ...skipped,
        ...translation.skipped,
        ...('failed' in translation ? [{ case: 'translation microbenchmark', reason: String(translation.failed) }] : []),
      ],
      memory,
      seconds: (Date.now() - started) / 1000,
    };
    printReport(result);
    const dir = join(root, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `bench-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2));
    writeFileSync(join(dir, 'latest.json'), JSON.stringify(result, null, 2));
    log(`\nresults: ${file}`);
  } finally {
    await cleanup();
  }
}

interface PreparedTargets {
  direct: Target;
  /** runtime → { floor, bare translator, gateway }; for streams also the floor relaying through JavaScript (floor-worker.ts) */
  runtimes: { runtime: string; floor: Target; jsRelay?: Target; translator: Target; gateway: Target }[];
}

/**
 * Checks that every worker serves the case, and learns from the mock what the gateway
 * sends upstream: calling the mock directly (and through the floor) then sends exactly
 * that request, so the comparison is "gateway" versus "the client speaking the provider's API".
 */
async function prepareCase(
  c: (typeof CASES)[number],
  bodies: Record<string, string>,
  running: RunningWorker[],
  mock: MockUpstream,
): Promise<{ skip: string } | { targets: PreparedTargets; streamTargets: PreparedTargets; checks: string[] }> {
  const checks: string[] = [];
  const gateways = running.filter((w) => w.worker === 'gateway');
  const floors = running.filter((w) => w.worker === 'floor');
  const translators = running.filter((w) => w.worker === 'translator');
  const gatewayTarget = (w: RunningWorker, stream: boolean): Target => ({
    label: `${w.runtime} gateway`,
    url: w.url,
    path: '/v1/chat/completions',
    body: Buffer.from(bodies[stream ? `${c.name}Stream` : c.name]),
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
  });
  const translatorTarget = (runtime: string, stream: boolean): Target => ({
    ...gatewayTarget(translators.find((t) => t.runtime === runtime)!, stream),
    label: `${runtime} translator`,
    headers: {},
  });

  const upstream: Record<'plain' | 'stream', { path: string; body: Buffer } | undefined> = { plain: undefined, stream: undefined };
  for (const w of gateways) {
    for (const stream of [false, true]) {
      const response = await send(gatewayTarget(w, stream), true);
      if (response.status !== 200) {
        let message = response.body ?? '';
        try {
          message = JSON.parse(message).error.message;
        } catch {
          // keep the raw text
        }
        return { skip: `${w.runtime} gateway answered HTTP ${response.status}${stream ? ' (stream)' : ''}: ${message.slice(0, 200)}` };
      }
      const problem = stream ? checkOpenAIStream(response.body!) : checkOpenAICompletion(response.body!);
      if (problem) return { skip: `${w.runtime} gateway answer is not a valid ${stream ? 'stream' : 'completion'}: ${problem}` };
      const last = await mock.last(c.name);
      if (!last) return { skip: `the mock received no ${c.name} request from the ${w.runtime} gateway` };
      upstream[stream ? 'stream' : 'plain'] = { path: last.path, body: Buffer.from(last.body) };
      const translated = checkUpstreamRequest(c.name, last.body, stream);
      if (translated) checks.push(`${w.runtime}: upstream request ${stream ? '(stream) ' : ''}${translated}`);
    }
  }
  if (!upstream.plain || !upstream.stream) return { skip: 'no gateway runtime running' };

  const build = (stream: boolean): PreparedTargets => {
    const sent = upstream[stream ? 'stream' : 'plain']!;
    const native = (label: string, url: string): Target => ({ label, url, path: sent.path, body: sent.body, headers: {} });
    return {
      direct: native('direct (mock)', mock.url),
      runtimes: gateways.map((g) => {
        const floorUrl = floors.find((f) => f.runtime === g.runtime)!.url;
        return {
          runtime: g.runtime,
          floor: native(`${g.runtime} floor`, floorUrl),
          ...(stream ? { jsRelay: { ...native(`${g.runtime} floor (JS relay)`, floorUrl), path: `/js-relay${sent.path}` } } : {}),
          translator: translatorTarget(g.runtime, stream),
          gateway: gatewayTarget(g, stream),
        };
      }),
    };
  };
  const targets = build(false);
  const streamTargets = build(true);
  // The floor must answer with the mock's bytes, or it is no floor; the bare translator, as the gateway does.
  for (const t of [targets, streamTargets]) {
    const direct = await send(t.direct, true);
    for (const r of t.runtimes) {
      const stream = t === streamTargets;
      const translated = await send(r.translator, true);
      const problem = translated.status !== 200 ? `HTTP ${translated.status}` : stream ? checkOpenAIStream(translated.body!) : checkOpenAICompletion(translated.body!);
      if (problem) return { skip: `${r.translator.label} did not answer a valid ${stream ? 'stream' : 'completion'}: ${problem}` };
      for (const floor of [r.floor, r.jsRelay]) {
        if (!floor) continue;
        const viaFloor = await send(floor, true);
        if (viaFloor.status !== 200 || viaFloor.body !== direct.body) return { skip: `${floor.label} did not relay the mock's answer (HTTP ${viaFloor.status})` };
      }
    }
  }
  return { targets, streamTargets, checks };
}

const firstLines = (text: string, lines = 6) => text.split('\n').filter((l) => l.trim()).slice(0, lines).join('\n    ');

function checkOpenAICompletion(text: string): string | null {
  try {
    const body = JSON.parse(text);
    return typeof body?.choices?.[0]?.message?.content === 'string' && body.choices[0].message.content.length > 0 ? null : 'no message content';
  } catch {
    return 'not JSON';
  }
}

function checkOpenAIStream(text: string): string | null {
  const events = text.split(/\n\n/).filter((e) => e.startsWith('data: '));
  if (events.at(-1) !== 'data: [DONE]') return 'does not end with [DONE]';
  let content = 0;
  for (const e of events.slice(0, -1)) {
    const chunk = JSON.parse(e.slice(6));
    if (chunk.error) return `error chunk: ${chunk.error.message}`;
    if (chunk.choices?.[0]?.delta?.content) content++;
  }
  return content >= STREAM_EVENTS ? null : `${content} content chunks, expected ${STREAM_EVENTS}`;
}

/** A note when the request the gateway sent upstream does not look translated for that provider. */
function checkUpstreamRequest(name: CaseName, text: string, stream: boolean): string | null {
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  const images = (parts: unknown) => JSON.stringify(parts).split('iVBORw0KGgo').length - 1; // base64 of the PNG signature
  if (name === 'anthropic') {
    const ok = Array.isArray(body.messages) && body.max_tokens === 4000 && body.system !== undefined && images(body.messages) === 3 && (body.stream === true) === stream;
    return ok ? null : 'does not look like an Anthropic Messages request with system, max_tokens 4000 and 3 images';
  }
  if (name === 'gemini') {
    const ok = Array.isArray(body.contents) && images(body.contents) === 3;
    return ok ? null : 'does not look like a Gemini request with 3 inline images';
  }
  return Array.isArray(body.messages) && images(body.messages) === 3 ? null : 'lost messages or images';
}

// --- measurement: every target in turn, round by round, so drift in machine load hits all alike ---

async function measureCase(targets: PreparedTargets, streamTargets: PreparedTargets, running: RunningWorker[]) {
  const list = (t: PreparedTargets) => [t.direct, ...t.runtimes.flatMap((r) => [r.floor, ...(r.jsRelay ? [r.jsRelay] : []), r.translator, r.gateway])];
  const rotate = <T>(items: T[], by: number) => items.map((_, i) => items[(i + by) % items.length]);
  // The workerd processes serving a target (none for the mock called directly), for its CPU per request.
  const workerOf = (t: Target) => running.find((w) => t.label.startsWith(`${w.runtime} ${w.worker}`));
  const cpu = new Map<string, number>();
  const timed = async (t: Target, count: number, samples: Samples) => {
    const worker = workerOf(t);
    const before = worker ? cpuMicros(worker.pids().workerd) : 0;
    await sequential(t, count, samples);
    if (worker) cpu.set(t.label, (cpu.get(t.label) ?? 0) + cpuMicros(worker.pids().workerd) - before);
  };
  const perRequest = (label: string, s: Samples) => (cpu.has(label) ? cpu.get(label)! / (s.total.length + s.errors) : NaN);

  const plain = list(targets);
  for (const t of plain) await sequential(t, PLAN.seqWarm);
  const seq = new Map(plain.map((t) => [t.label, emptySamples()]));
  for (let r = 0; r < PLAN.rounds; r++) {
    for (const t of rotate(plain, r)) await timed(t, Math.ceil(PLAN.seqCount / PLAN.rounds), seq.get(t.label)!);
  }
  const seqCpu = new Map([...seq].map(([label, s]) => [label, perRequest(label, s)]));
  cpu.clear();

  const conc = new Map(plain.map((t) => [t.label, { samples: emptySamples(), completed: 0, seconds: 0, cpuSeconds: 0 }]));
  for (const t of plain) await concurrent(t, CONCURRENCY, PLAN.concWarmMs);
  for (let r = 0; r < PLAN.concRounds; r++) {
    for (const t of rotate(plain, r)) {
      const acc = conc.get(t.label)!;
      const run = await concurrent(t, CONCURRENCY, PLAN.concMs, acc.samples);
      acc.completed += run.completed;
      acc.seconds += run.seconds;
      acc.cpuSeconds += run.cpuSeconds;
    }
  }

  const streaming = list(streamTargets);
  for (const t of streaming) await sequential(t, PLAN.streamWarm);
  const str = new Map(streaming.map((t) => [t.label, emptySamples()]));
  for (let r = 0; r < PLAN.rounds; r++) {
    for (const t of rotate(streaming, r)) await timed(t, Math.ceil(PLAN.streamCount / PLAN.rounds), str.get(t.label)!);
  }

  const stats = summarize;
  return {
    runtimes: targets.runtimes.map((r) => r.runtime),
    sequential: Object.fromEntries([...seq].map(([label, s]) => [label, { ...stats(s, 'total'), cpuMicros: seqCpu.get(label)! }])),
    concurrent: Object.fromEntries(
      [...conc].map(([label, c]) => [label, { ...stats(c.samples, 'total'), rps: c.completed / c.seconds, benchCpu: c.cpuSeconds / c.seconds }]),
    ),
    stream: Object.fromEntries(
      [...str].map(([label, s]) => [label, { firstChunk: stats(s, 'firstChunk'), total: stats(s, 'total'), reads: percentile(s.reads, 50), cpuMicros: perRequest(label, s) }]),
    ),
  };
}

main().then(
  // Explicit exit: a runtime that failed half-way can leave handles that would keep Node alive.
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
