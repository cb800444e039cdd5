import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { closeAgent, concurrent, sequential, type Target } from './load.ts';
import { startMockUpstream } from './mock-client.ts';
import { BENCH_MODELS } from './models.ts';
import { benchmarkRequest, screenshots } from './request.ts';
import { bundleWorker, freePort, gatewayToml, root, writeConfig } from './runtimes.ts';

// `node bench/profile.ts [--case=anthropic] [--stream=false] [--n=300] [--conc=32] [--interval=100]`
//
// A V8 CPU profile of the gateway inside workerd (Miniflare's inspector) while it serves
// one benchmark case against the zero-latency mock: n requests one at a time, or with
// --conc, that many clients for n ms. Writes bench/results/<case>.cpuprofile (open it in
// Chrome DevTools → Performance, or VS Code) and prints the functions with the most time,
// per request. Two cautions when reading it: workerd's clock does not advance while
// JavaScript runs, so only the sampler (not performance.now()) can time code inside the
// Worker; and time in native stream and fetch machinery is often charged to whichever
// JavaScript frame resumes next, so compare two builds by their CPU per request (the
// bench's "workerd CPU" column) before trusting a single row here.

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string?]));
const which = (args.get('case') ?? 'anthropic') as keyof typeof BENCH_MODELS;
const stream = args.get('stream') !== 'false';
const count = Number(args.get('n') ?? 300);
const clients = Number(args.get('conc') ?? 0);

const work = mkdtempSync(join(tmpdir(), 'switchboard-profile-'));
const mock = await startMockUpstream();
let mf: Miniflare | undefined;
try {
  const dir = join(work, 'gateway');
  const configPath = writeConfig(dir, {
    name: 'gateway',
    main: join(root, 'src/index.ts'),
    toml: gatewayToml(),
    devVars: {
      GATEWAY_KEYS: 'sk-switchboard-profile-key',
      OPENAI_API_KEY: 'sk-profile',
      OPENAI_BASE_URL: `${mock.url}/v1`,
      ANTHROPIC_API_KEY: 'sk-ant-profile',
      ANTHROPIC_BASE_URL: mock.url,
      GEMINI_API_KEY: 'gemini-profile',
      GEMINI_BASE_URL: mock.url,
    },
  });
  const scriptPath = await bundleWorker(join(root, 'src/index.ts'), join(dir, 'gateway.mjs'));
  const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
  const inspectorPort = await freePort();
  mf = new Miniflare({ ...(workerOptions as object), modules: true, modulesRoot: dir, scriptPath, host: '127.0.0.1', port: await freePort(), inspectorPort });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const target: Target = {
    label: 'gateway',
    url,
    path: '/v1/chat/completions',
    body: Buffer.from(JSON.stringify(benchmarkRequest(BENCH_MODELS[which], stream, screenshots()))),
    headers: { authorization: 'Bearer sk-switchboard-profile-key' },
  };
  await sequential(target, 50); // warm: the profile shows the steady state, not compilation

  // The user Worker's inspector target (Miniflare also lists its own internal workers).
  const list = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as { title: string; webSocketDebuggerUrl: string }[];
  const entry = list.find((e) => e.title.startsWith('workerd: worker core:user:'));
  if (!entry) throw new Error(`no user worker among the inspector targets: ${list.map((e) => e.title).join(', ')}`);
  const ws = new WebSocket(entry.webSocketDebuggerUrl.replace('localhost', '127.0.0.1'));
  await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
  let nextId = 0;
  const waiting = new Map<number, (result: any) => void>();
  ws.onmessage = (m) => {
    const message = JSON.parse(String(m.data));
    if (message.id) waiting.get(message.id)?.(message.result ?? message.error);
  };
  const cdp = (method: string, params: object = {}) =>
    new Promise<any>((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await cdp('Profiler.enable');
  await cdp('Profiler.setSamplingInterval', { interval: Number(args.get('interval') ?? 100) });
  await cdp('Profiler.start');
  const samples = clients ? (await concurrent(target, clients, count)).samples : await sequential(target, count);
  const { profile } = await cdp('Profiler.stop');
  ws.close();

  const requests = samples.total.length + samples.errors;
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const file = join(root, `bench/results/${which}${stream ? '-stream' : ''}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  console.log(`${requests} requests (${samples.errors} errors); profile: ${file}\n`);
  printTop(profile, requests, Number(args.get('top') ?? 30));
} finally {
  await mf?.dispose().catch(() => {});
  await mock.close();
  closeAgent();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self and inclusive time per function, in µs per request. */
function printTop(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, requests: number, top: number) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}` : '(native)'}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(name(nodes.get(id)!), (self.get(name(nodes.get(id)!)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = name(nodes.get(at)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  });
  for (const [title, totals] of [['self', self], ['inclusive', inclusive]] as const) {
    console.log(`µs per request, ${title}`);
    for (const [key, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / requests).toFixed(1).padStart(9)}  ${key}`);
    console.log('');
  }
}
