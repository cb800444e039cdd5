import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { bundleWorker, compatibility, root } from './runtimes.ts';
import {
  anthropicJson,
  anthropicSse,
  encodeSse,
  GEMINI_SSE_SEPARATOR,
  geminiJson,
  geminiSse,
  openaiJson,
  openaiSse,
  STREAM_EVENTS,
} from './upstream-responses.ts';
import { BENCH_MODELS, upstreamModel } from './models.ts';

// Cost of the translation alone, without I/O: the pure functions of each provider
// (bench/pure/*.ts, bundled from src/ with esbuild) on the benchmark request and on the
// mock's answers, timed in this Node process (CPU time) and inside workerd, the
// gateway's runtime (a Worker runs a step n times; time with n minus time without,
// measured from outside, as code in workerd sees no clock advance while it computes).
// Both matter: workerd's V8 is much newer than Node 22's, and e.g. JSON.stringify of
// the 100 KB request is several times faster there. Last, each provider's whole
// chatCompletion in Node, with fetch answered in memory by the bytes the mock sends.

export interface TranslationResult {
  case: string;
  iterations: number;
  /** Node: CPU time (user + system) per iteration, µs. */
  cpuMicros: number;
  /** Node: wall time per iteration, µs. */
  wallMicros: number;
  /** workerd: time per iteration, µs (median of several runs), when measured there. */
  workerdMicros?: number;
}

const MOCK_BASE = 'http://upstream.bench.invalid';

/** The same answers as bench/mock-upstream.ts, without a socket. */
async function inMemoryFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : String(input));
  let body = init?.body;
  if (input instanceof Request && body === undefined) body = await input.text();
  const text = typeof body === 'string' ? body : body instanceof Uint8Array ? new TextDecoder().decode(body) : body ? await new Response(body).text() : '';
  const path = url.pathname;
  const sse = (events: Buffer[]) =>
    new Response(
      new ReadableStream({
        start(controller) {
          for (const e of events) controller.enqueue(new Uint8Array(e));
          controller.close();
        },
      }),
      { headers: { 'content-type': 'text/event-stream; charset=utf-8' } },
    );
  const json = (s: string) => new Response(s, { headers: { 'content-type': 'application/json' } });
  const stream = text.includes('"stream":true');
  if (path.endsWith('/chat/completions')) return stream ? sse(cached.openaiSse) : json(cached.openaiJson);
  if (path.endsWith('/v1/messages')) return stream ? sse(cached.anthropicSse) : json(cached.anthropicJson);
  if (path.endsWith(':streamGenerateContent')) return sse(cached.geminiSse);
  if (path.endsWith(':generateContent')) return json(cached.geminiJson);
  return new Response(JSON.stringify({ error: { message: `no route ${path}` } }), { status: 404, headers: { 'content-type': 'application/json' } });
}

const cached = {
  openaiJson: openaiJson(upstreamModel('openai')),
  openaiSse: encodeSse(openaiSse(upstreamModel('openai'))),
  anthropicJson: anthropicJson(upstreamModel('anthropic')),
  anthropicSse: encodeSse(anthropicSse(upstreamModel('anthropic'))),
  geminiJson: geminiJson(upstreamModel('gemini')),
  geminiSse: encodeSse(geminiSse(upstreamModel('gemini')), GEMINI_SSE_SEPARATOR),
};

/** Bundles an entry that imports from src/ for Node; returns the module. */
async function bundle(entry: string, outDir: string): Promise<any> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${basename(entry, '.ts')}.mjs`);
  await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', target: 'node22', outfile, logLevel: 'silent' });
  return import(outfile);
}

async function measure(name: string, minMs: number, fn: () => unknown): Promise<TranslationResult> {
  // Warm up until the JIT has settled, then time whole batches.
  const warmEnd = performance.now() + Math.min(300, minMs / 3);
  while (performance.now() < warmEnd) await fn();
  let iterations = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    for (let i = 0; i < 20; i++) await fn();
    iterations += 20;
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { case: name, iterations, cpuMicros: (cpu.user + cpu.system) / iterations, wallMicros: (wall * 1000) / iterations };
}

export interface TranslationRun {
  results: TranslationResult[];
  /** What could not be measured, and why (a provider not there yet, an export renamed). */
  skipped: { case: string; reason: string }[];
}

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n').slice(0, 3).join(' ');

/** One timed step: `module.step(input)` of a bench/pure/ module. */
interface PureCase {
  label: string;
  module: string;
  step: string;
  input: string | string[];
}

/**
 * @param bodies the client request bodies by case (`openai`, `anthropic`, `gemini`), as sent to the gateway
 */
export async function translationBench(outDir: string, bodies: Record<string, string>, minMs = 1500): Promise<TranslationRun> {
  const skipped: TranslationRun['skipped'] = [];
  const upstream = {
    anthropic: { json: cached.anthropicJson, events: anthropicSse(upstreamModel('anthropic')).map((e) => e.data) },
    gemini: { json: cached.geminiJson, events: geminiSse(upstreamModel('gemini')).map((e) => e.data) },
  };
  const planned: PureCase[] = [
    { label: 'reference: JSON.parse + JSON.stringify of the request body', module: 'reference', step: 'request', input: bodies.openai },
    { label: 'parseChatRequest (validation only)', module: 'openai', step: 'parseChatRequest', input: bodies.openai },
    { label: 'openai: parse + re-serialise (pass-through request)', module: 'openai', step: 'request', input: bodies.openai },
  ];
  for (const p of ['anthropic', 'gemini'] as const) {
    planned.push(
      { label: `${p}: request translation (parse + translate + serialise)`, module: p, step: 'request', input: bodies[p] },
      { label: `${p}: response translation (parse + translate + serialise)`, module: p, step: 'response', input: upstream[p].json },
      { label: `${p}: ${STREAM_EVENTS}-event stream translation (per stream)`, module: p, step: 'stream', input: upstream[p].events },
    );
  }

  // Node, one module at a time, so one provider's unfinished code skips only its own rows.
  const modules = new Map<string, any>();
  for (const name of new Set(planned.map((c) => c.module))) {
    try {
      const mod = await bundle(join(root, 'bench/pure', `${name}.ts`), outDir);
      // Run each step once outside the timing, so a failure names itself instead of being timed.
      for (const c of planned.filter((c) => c.module === name)) await mod[c.step](c.input, MAX_IMAGE_BYTES);
      modules.set(name, mod);
    } catch (error) {
      skipped.push({ case: `${name} translation microbenchmark`, reason: firstLine(error) });
    }
  }
  const cases = planned.filter((c) => modules.has(c.module));
  const results: TranslationResult[] = [];
  for (const c of cases) {
    const fn = modules.get(c.module)[c.step];
    results.push(await measure(c.label, minMs, () => fn(c.input, MAX_IMAGE_BYTES)));
  }

  // workerd: the same steps in a Worker under Miniflare.
  try {
    const times = await workerdTimes(outDir, cases, [...modules.keys()], minMs);
    cases.forEach((c, i) => (results[i].workerdMicros = times[i]));
  } catch (error) {
    skipped.push({ case: 'translation timing in workerd', reason: firstLine(error) });
  }

  // Per request = request + response translation.
  for (const p of ['anthropic', 'gemini']) {
    const req = results.find((r) => r.case.startsWith(`${p}: request translation`));
    const res = results.find((r) => r.case.startsWith(`${p}: response translation`));
    if (!req || !res) continue;
    const sum = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a + b);
    results.splice(results.indexOf(res) + 1, 0, {
      case: `${p}: per request (request + response)`,
      iterations: Math.min(req.iterations, res.iterations),
      cpuMicros: req.cpuMicros + res.cpuMicros,
      wallMicros: req.wallMicros + res.wallMicros,
      workerdMicros: sum(req.workerdMicros, res.workerdMicros),
    });
  }

  results.push(...(await providerCalls(outDir, bodies, minMs, skipped)));
  return { results, skipped };
}

async function workerdTimes(outDir: string, cases: PureCase[], moduleNames: string[], minMs: number): Promise<number[]> {
  const dir = join(outDir, 'workerd');
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    [
      `import { timingWorker } from ${JSON.stringify(join(root, 'bench/pure/worker.ts'))};`,
      ...moduleNames.map((m) => `import * as ${m} from ${JSON.stringify(join(root, 'bench/pure', `${m}.ts`))};`),
      `export default timingWorker({ ${moduleNames.join(', ')} } as any);`,
    ].join('\n'),
  );
  const scriptPath = await bundleWorker(entry, join(dir, 'timing-worker.mjs'));
  const mf = new Miniflare({ modules: true, modulesRoot: dir, scriptPath, ...compatibility() });
  try {
    const url = await mf.ready;
    const run = async (c: PureCase, n: number) => {
      const started = performance.now();
      const response = await fetch(`${url}?case=${c.module}.${c.step}&n=${n}`, {
        method: 'POST',
        body: typeof c.input === 'string' ? c.input : JSON.stringify(c.input),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`workerd ${c.module}.${c.step}: ${text}`);
      return performance.now() - started;
    };
    const out: number[] = [];
    for (const c of cases) {
      // Enough iterations per run for ~60 ms of work, so the HTTP round trip is noise.
      await run(c, 20);
      const estimate = Math.max(0.001, ((await run(c, 40)) - (await run(c, 0))) / 40);
      const n = Math.max(20, Math.min(20_000, Math.round(60 / estimate)));
      const perIteration: number[] = [];
      const deadline = performance.now() + minMs;
      while (perIteration.length < 5 || (performance.now() < deadline && perIteration.length < 15)) {
        const base = await run(c, 0);
        perIteration.push(((await run(c, n)) - base) / n);
      }
      out.push(percentile(perIteration, 50) * 1000);
    }
    return out;
  } finally {
    await mf.dispose();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((p / 100) * (sorted.length - 1))];
}

/**
 * The whole provider call (SDK client, Response objects, fetch answered in memory) in
 * Node, for what the pure rows leave out; Node's fetch machinery makes it an upper bound.
 */
async function providerCalls(outDir: string, bodies: Record<string, string>, minMs: number, skipped: TranslationRun['skipped']) {
  const results: TranslationResult[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = inMemoryFetch as typeof fetch; // before src/ loads, for clients that capture fetch
  try {
    const mod = await bundle(join(root, 'bench/pure/providers.ts'), outDir);
    const env = {
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: `${MOCK_BASE}/v1`,
      ANTHROPIC_API_KEY: 'sk-ant-bench',
      ANTHROPIC_BASE_URL: MOCK_BASE,
      GEMINI_API_KEY: 'gemini-bench',
      GEMINI_BASE_URL: MOCK_BASE,
    };
    for (const provider of ['openai', 'anthropic', 'gemini'] as const) {
      const impl = mod.providers[provider];
      if (!impl) {
        skipped.push({ case: `${provider} provider call`, reason: 'not registered in src/providers/index.ts' });
        continue;
      }
      const target = mod.catalogFor(undefined).resolve(BENCH_MODELS[provider]);
      const call = async () => {
        const result = await impl.chatCompletion({
          request: mod.parseChatRequest(bodies[provider]),
          target,
          env,
          signal: new AbortController().signal,
          notes: { dropped: [], adapted: [] },
          maxImageBytes: MAX_IMAGE_BYTES,
        });
        if (typeof result.body !== 'string') JSON.stringify(result.body); // what the handler does with it
      };
      try {
        await call();
        results.push(await measure(`${provider}: whole provider call in Node (in-memory fetch)`, minMs, call));
      } catch (error) {
        skipped.push({ case: `${provider} provider call`, reason: firstLine(error) });
      }
    }
  } catch (error) {
    skipped.push({ case: 'provider calls', reason: firstLine(error) });
  } finally {
    globalThis.fetch = realFetch;
  }
  return results;
}
