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
import { printTop, userWorkerInspector } from './cpu-profile.ts';

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

  const inspector = await userWorkerInspector(inspectorPort, Number(args.get('interval') ?? 100));
  const samples = clients ? (await concurrent(target, clients, count)).samples : await sequential(target, count);
  const profile = await inspector.stop();

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

