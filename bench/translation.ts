import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { root } from './runtimes.ts';
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

// CPU cost of the translation alone, in this Node process: the pure functions of each
// provider (bench/pure/*.ts, bundled from src/ with esbuild) on the benchmark request
// and on the mock's answers; then each provider's whole chatCompletion with fetch
// answered in memory by the same bytes the mock sends, so no I/O is timed.

export interface TranslationResult {
  case: string;
  iterations: number;
  /** CPU time (user + system) per iteration, µs. */
  cpuMicros: number;
  /** Wall time per iteration, µs. */
  wallMicros: number;
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
  openaiJson: openaiJson('gpt-4o'),
  openaiSse: encodeSse(openaiSse('gpt-4o')),
  anthropicJson: anthropicJson('claude-3-5-sonnet-20241022'),
  anthropicSse: encodeSse(anthropicSse('claude-3-5-sonnet-20241022')),
  geminiJson: geminiJson('gemini-1.5-flash'),
  geminiSse: encodeSse(geminiSse('gemini-1.5-flash'), GEMINI_SSE_SEPARATOR),
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

/**
 * @param bodies the client request bodies by case (`openai`, `anthropic`, `gemini`), as sent to the gateway
 */
export async function translationBench(outDir: string, bodies: Record<string, string>, minMs = 1500): Promise<TranslationRun> {
  const results: TranslationResult[] = [];
  const skipped: TranslationRun['skipped'] = [];
  const upstreamData = {
    anthropic: { json: cached.anthropicJson, events: anthropicSse('claude-3-5-sonnet-20241022').map((e) => e.data) },
    gemini: { json: cached.geminiJson, events: geminiSse('gemini-1.5-flash').map((e) => e.data) },
  };

  // The pure steps, one provider at a time, so one provider's unfinished code skips only its own rows.
  for (const provider of ['openai', 'anthropic', 'gemini'] as const) {
    try {
      const mod = await bundle(join(root, 'bench/pure', `${provider}.ts`), outDir);
      const body = bodies[provider];
      if (provider === 'openai') {
        await mod.request(body);
        results.push(await measure('parseChatRequest (validation only)', minMs, () => mod.parseChatRequest(body)));
        results.push(await measure('openai: parse + re-serialise (pass-through request)', minMs, () => mod.request(body)));
        continue;
      }
      const data = upstreamData[provider];
      // Run once outside the timing, so a failure names itself instead of being timed.
      await mod.request(body, MAX_IMAGE_BYTES);
      mod.response(data.json);
      mod.stream(data.events);
      const req = await measure(`${provider}: request translation (parse + translate + serialise)`, minMs, () => mod.request(body, MAX_IMAGE_BYTES));
      const res = await measure(`${provider}: response translation (parse + translate + serialise)`, minMs, () => mod.response(data.json));
      results.push(req, res, {
        case: `${provider}: per request (request + response)`,
        iterations: Math.min(req.iterations, res.iterations),
        cpuMicros: req.cpuMicros + res.cpuMicros,
        wallMicros: req.wallMicros + res.wallMicros,
      });
      results.push(await measure(`${provider}: ${STREAM_EVENTS}-event stream translation (per stream)`, minMs, () => mod.stream(data.events)));
    } catch (error) {
      skipped.push({ case: `${provider} translation microbenchmark`, reason: firstLine(error) });
    }
  }

  // The whole provider call (SDK client, Response objects, fetch answered in memory) in Node,
  // for what the pure rows leave out; Node's fetch machinery makes it an upper bound.
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
    for (const provider of ['openai', 'anthropic', 'gemini']) {
      const impl = mod.providers[provider];
      if (!impl) {
        skipped.push({ case: `${provider} provider call`, reason: 'not registered in src/providers/index.ts' });
        continue;
      }
      const model = { openai: 'openai/gpt-4o', anthropic: 'anthropic/claude-3-5-sonnet-20241022', gemini: 'gemini/gemini-1.5-flash' }[provider]!;
      const target = mod.catalogFor(undefined).resolve(model);
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
  return { results, skipped };
}
