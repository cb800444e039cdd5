import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { BENCH_MODELS, upstreamModel } from './models.ts';
import { benchmarkRequest, screenshots } from './request.ts';
import { printTop, userWorkerInspector } from './cpu-profile.ts';
import { bundleWorker, freePort, gatewayToml, root, writeConfig } from './runtimes.ts';
import { anthropicJson, anthropicSse, encodeSse, GEMINI_SSE_SEPARATOR, geminiJson, geminiSse, openaiJson, openaiSse } from './upstream-responses.ts';

// `node bench/in-memory.ts [--case=anthropic] [--stream=false] [--src=<checkout>] [--profile]`
//
// The whole gateway's work per request inside workerd, without sockets: a Worker wraps the
// gateway's fetch handler and, on /__loop?n=, sends it n benchmark requests one after
// the other, its upstream fetch answered in memory with the mock's bytes. Timed from
// outside (workerd's clock stands still while JavaScript runs) as time(n) − time(0), so it
// is the CPU of Hono, auth, parsing, routing, translation, the SDK and the Response
// objects, with none of the network stack's: steadier than the bench's /proc column, and
// with --profile a V8 profile with no I/O in it. --src times another checkout's src/
// (e.g. a `git worktree` of the base commit) for an A/B.

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string?]));
const which = (args.get('case') ?? 'anthropic') as keyof typeof BENCH_MODELS;
const stream = args.get('stream') === 'true';
const srcRoots = (args.get('src') ?? root).split(',').map((s) => resolve(s));
const MOCK_BASE = 'http://upstream.in-memory.invalid';

const answers = {
  openai: { json: openaiJson(upstreamModel('openai')), sse: encodeSse(openaiSse(upstreamModel('openai'))) },
  anthropic: { json: anthropicJson(upstreamModel('anthropic')), sse: encodeSse(anthropicSse(upstreamModel('anthropic'))) },
  gemini: { json: geminiJson(upstreamModel('gemini')), sse: encodeSse(geminiSse(upstreamModel('gemini')), GEMINI_SSE_SEPARATOR) },
}[which];

const harness = (gatewayEntry: string) => `
import gateway from ${JSON.stringify(gatewayEntry)};
export * from ${JSON.stringify(gatewayEntry)};
let answer = null;
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  if (!url.startsWith(${JSON.stringify(MOCK_BASE)})) return realFetch(input, init);
  // Read the body as the network stack would.
  if (input instanceof Request) await input.arrayBuffer(); else if (init?.body instanceof ReadableStream) await new Response(init.body).arrayBuffer();
  if (!answer.stream) return new Response(answer.json, { headers: { 'content-type': 'application/json' } });
  const events = answer.events;
  let i = 0;
  return new Response(new ReadableStream({ pull(c) { if (i < events.length) c.enqueue(events[i++]); else c.close(); } }), { headers: { 'content-type': 'text/event-stream' } });
};
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/__setup') {
      const setup = await request.json();
      const enc = new TextEncoder();
      answer = { stream: setup.stream, json: setup.json, events: setup.sse.map((e) => enc.encode(e)), body: enc.encode(setup.body), key: setup.key };
      return new Response('ok');
    }
    if (url.pathname === '/__loop') {
      const n = Number(url.searchParams.get('n'));
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const response = await gateway.fetch(new Request('http://gateway.local/v1/chat/completions', {
          method: 'POST',
          headers: { authorization: 'Bearer ' + answer.key, 'content-type': 'application/json', 'content-length': String(answer.body.byteLength) },
          body: answer.body,
        }), env, ctx);
        if (response.status !== 200) return new Response(await response.text(), { status: 500 });
        bytes += (await response.arrayBuffer()).byteLength;
      }
      return new Response(String(bytes));
    }
    return gateway.fetch(request, env, ctx);
  },
};
`;

const work = mkdtempSync(join(tmpdir(), 'switchboard-in-memory-'));
const results: string[] = [];
const instances: { label: string; mf: Miniflare; url: string; inspectorPort: number }[] = [];
try {
  for (const [i, src] of srcRoots.entries()) {
    const dir = join(work, `gateway-${i}`);
    mkdirSync(dir, { recursive: true });
    const configPath = writeConfig(dir, {
      name: 'gateway',
      main: join(src, 'src/index.ts'),
      toml: gatewayToml(),
      devVars: {
        GATEWAY_KEYS: 'sk-switchboard-in-memory-key',
        OPENAI_API_KEY: 'sk-in-memory',
        OPENAI_BASE_URL: `${MOCK_BASE}/v1`,
        ANTHROPIC_API_KEY: 'sk-ant-in-memory',
        ANTHROPIC_BASE_URL: MOCK_BASE,
        GEMINI_API_KEY: 'gemini-in-memory',
        GEMINI_BASE_URL: MOCK_BASE,
      },
    });
    const entry = join(dir, 'harness.ts');
    writeFileSync(entry, harness(join(src, 'src/index.ts')));
    const scriptPath = await bundleWorker(entry, join(dir, 'harness.mjs'));
    const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
    const inspectorPort = await freePort();
    const mf = new Miniflare({ ...(workerOptions as object), modules: true, modulesRoot: dir, scriptPath, host: '127.0.0.1', port: await freePort(), inspectorPort });
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const body = JSON.stringify(benchmarkRequest(BENCH_MODELS[which], stream, screenshots()));
    const setup = await fetch(`${url}/__setup`, {
      method: 'POST',
      body: JSON.stringify({ stream, json: answers.json, sse: answers.sse.map((b) => b.toString('utf8')), body, key: 'sk-switchboard-in-memory-key' }),
    });
    if (!setup.ok) throw new Error(`setup: ${await setup.text()}`);
    instances.push({ label: srcRoots.length > 1 ? src : 'gateway', mf, url, inspectorPort });
  }

  const run = async (url: string, n: number) => {
    const started = performance.now();
    const response = await fetch(`${url}/__loop?n=${n}`);
    const text = await response.text();
    if (!response.ok) throw new Error(`loop: ${text.slice(0, 500)}`);
    return performance.now() - started;
  };
  for (const { url } of instances) for (let i = 0; i < 5; i++) await run(url, 100); // JIT warm-up
  const n = Number(args.get('n') ?? 200);
  if (args.has('profile')) {
    const { inspectorPort, url } = instances[0];
    const inspector = await userWorkerInspector(inspectorPort, Number(args.get('interval') ?? 50));
    const count = Number(args.get('profile') || 2000);
    await run(url, count);
    const profile = await inspector.stop();
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    const file = join(root, `bench/results/in-memory-${which}${stream ? '-stream' : ''}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.log(`${count} requests; profile: ${file}\n`);
    printTop(profile, count, Number(args.get('top') ?? 40));
  }
  const per = new Map<string, number[]>();
  for (let round = 0; round < Number(args.get('rounds') ?? 7); round++) {
    for (const { label, url } of instances) {
      const base = await run(url, 0);
      const t = ((await run(url, n)) - base) / n;
      per.set(label, [...(per.get(label) ?? []), t * 1000]);
    }
  }
  for (const [label, times] of per) {
    const sorted = [...times].sort((a, b) => a - b);
    results.push(`${label}: ${which}${stream ? ' stream' : ''} ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} µs/request (median of ${sorted.length}; min ${sorted[0].toFixed(0)}, max ${sorted.at(-1)!.toFixed(0)})`);
  }
  console.log(results.join('\n'));
} finally {
  await Promise.allSettled(instances.map((i) => i.mf.dispose()));
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
