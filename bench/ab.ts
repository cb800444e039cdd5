import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { closeAgent, percentile, sequential, type Target } from './load.ts';
import { startMockUpstream } from './mock-client.ts';
import { BENCH_MODELS } from './models.ts';
import { benchmarkRequest, screenshots } from './request.ts';
import { cpuMicros, floorToml, gatewayToml, root, startMiniflare, startWranglerDev, type RunningWorker } from './runtimes.ts';

// `node bench/ab.ts [--base=<dir> | --src=<dir>,<dir>,…] [--case=anthropic] [--stream=true] [--n=400] [--rounds=6] [--gap=ms] [--usage[=label,…]] [--runtime=wrangler]`
//
// Versions of the gateway side by side under Miniflare (or wrangler dev, --runtime=wrangler): this checkout's src/ and the one
// in --base (e.g. `git worktree add /tmp/base HEAD` with node_modules linked), or the
// checkouts --src lists, plus the floor (and for streams the JS-relay floor, and the "whole"
// floor that also reads the request whole before sending it, as a translation must), in alternating
// rounds of n sequential requests. Prints each one's workerd CPU per request and p50 (first
// chunk, for streams), the p50 split by the mock's clock into "until the mock had the
// request" and "from its first byte to the client's": the quick way to tell whether a
// change to the hot path helped, and where, below the noise of separate runs on a shared
// machine. AB_THREADS=1 adds CPU per thread, AB_STRACE=1 the last round's system calls.

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string?]));
const which = (args.get('case') ?? 'anthropic') as keyof typeof BENCH_MODELS;
const stream = args.get('stream') === 'true';
const count = Number(args.get('n') ?? 400);
const rounds = Number(args.get('rounds') ?? 6);
// Each version of src/ to compare: this checkout, --base, or a list --src=dir,dir,…
const sources = args.has('src') ? args.get('src')!.split(',').map((d) => resolve(d)) : [resolve(root), ...(args.has('base') ? [resolve(args.get('base')!)] : [])];
const labelOf = (dir: string) => (dir === resolve(root) ? 'this' : args.has('base') && dir === resolve(args.get('base')!) ? 'base' : basename(dir));
const gapMs = Number(args.get('gap') ?? 0);
const start = args.get('runtime') === 'wrangler' ? startWranglerDev : startMiniflare;
// --usage (every version) or --usage=<label>,…: those get the usage table, so each request is metered and recorded as after `npm start`.
const usageFor = (label: string) => args.has('usage') && (!args.get('usage') || args.get('usage')!.split(',').includes(label));

const work = mkdtempSync(join(tmpdir(), 'switchboard-ab-'));
const mock = await startMockUpstream();
const running: { label: string; worker: RunningWorker }[] = [];
try {
  const secrets = {
    GATEWAY_KEYS: 'sk-switchboard-ab-key',
    OPENAI_API_KEY: 'sk-ab',
    OPENAI_BASE_URL: `${mock.url}/v1`,
    ANTHROPIC_API_KEY: 'sk-ant-ab',
    ANTHROPIC_BASE_URL: mock.url,
    GEMINI_API_KEY: 'gemini-ab',
    GEMINI_BASE_URL: mock.url,
  };
  const gateways = sources.map((dir) => ({ label: labelOf(dir), main: join(dir, 'src/index.ts') }));
  for (const g of gateways) {
    const worker = await start(join(work, g.label), { name: 'gateway', main: g.main, toml: gatewayToml(), devVars: secrets, migrate: usageFor(g.label) });
    running.push({ label: usageFor(g.label) ? `${g.label}+usage` : g.label, worker });
  }
  const body = Buffer.from(JSON.stringify(benchmarkRequest(BENCH_MODELS[which], stream, screenshots())));
  const targets: Target[] = running.map(({ label, worker }) => ({ label, url: worker.url, path: '/v1/chat/completions', body, headers: { authorization: 'Bearer sk-switchboard-ab-key' } }));
  // The floor gets what the gateway sent upstream (from whichever version reaches the mock: one cut short for an experiment may not).
  for (const t of targets) await sequential(t, 1);
  const sent = await mock.last(which);
  if (!sent) throw new Error('no gateway reached the mock');
  running.push({ label: 'floor', worker: await start(join(work, 'floor'), { name: 'floor', main: join(root, 'bench/floor-worker.ts'), toml: floorToml(), devVars: { UPSTREAM_URL: mock.url } }) });
  targets.push({ label: 'floor', url: running.at(-1)!.worker.url, path: sent.path, body: Buffer.from(sent.body), headers: {} });
  // Streams: also the floor that hands each read through JavaScript (the runtime's own cost per event).
  if (stream) {
    const floor = targets.at(-1)!;
    targets.push({ ...floor, label: 'relay', path: `/js-relay${sent.path}` });
    running.push(running.at(-1)!);
    // …and that also reads the request whole before sending it (as a translation must).
    targets.push({ ...floor, label: 'whole', path: `/whole-relay${sent.path}` });
    running.push(running.at(-1)!);
  }

  const totals = new Map<string, { cpu: number; n: number; times: number[]; before: number[]; after: number[] }>();
  for (const t of targets) await sequential(t, 40);
  for (let round = 0; round < rounds; round++) {
    const line: string[] = [];
    for (const [i, t] of targets.entries()) {
      const pids = running[i].worker.pids().workerd;
      const threadsBefore = process.env.AB_THREADS ? threadCpu(pids) : undefined;
      const before = cpuMicros(pids);
      await mock.timeline(); // (clears it)
      // AB_STRACE=1: the system calls of the last round, per target (strace -c), to compare what the runtime does per request.
      const trace = process.env.AB_STRACE && round === rounds - 1 ? spawn('strace', ['-c', '-f', '-o', join(work, `${t.label}.strace`), ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' }) : undefined;
      if (trace) await new Promise((r) => setTimeout(r, 500));
      const samples = await sequential(t, count, undefined, gapMs);
      if (trace) {
        trace.kill('SIGINT');
        await new Promise((r) => trace.once('exit', r));
        console.log(`--- ${t.label}: system calls for ${count} requests\n${readFileSync(join(work, `${t.label}.strace`), 'utf8').split('\n').slice(0, 16).join('\n')}`);
      }
      const cpu = cpuMicros(pids) - before;
      if (threadsBefore) {
        const after = threadCpu(pids);
        const byName = new Map<string, number>();
        for (const [tid, { name, micros }] of after) byName.set(name, (byName.get(name) ?? 0) + micros - (threadsBefore.get(tid)?.micros ?? 0));
        console.log(`  ${t.label} threads, µs/request: ${[...byName].filter(([, us]) => us > 0).map(([name, us]) => `${name} ${Math.round(us / count)}`).join(', ')}`);
      }
      // Requests one at a time, all answered by the mock: its timeline pairs with the samples in order.
      const timeline = await mock.timeline();
      const paired = timeline.length === samples.sentAt.length;
      const newSockets = timeline.filter((e) => e.newSocket).length;
      const times = stream ? samples.firstChunk : samples.total;
      const total = totals.get(t.label) ?? { cpu: 0, n: 0, times: [], before: [], after: [] };
      total.cpu += cpu;
      total.n += count;
      total.times.push(...times);
      if (paired)
        samples.sentAt.forEach((sent, j) => {
          total.before.push(timeline[j].received - sent);
          total.after.push(sent + times[j] - timeline[j].answered);
        });
      totals.set(t.label, total);
      line.push(`${t.label} ${Math.round(cpu / count)} µs ${percentile(times, 50).toFixed(2)} ms${newSockets ? ` (${newSockets} new upstream connections)` : ''}${samples.errors ? ` (${samples.errors} errors: ${samples.firstError})` : ''}`);
    }
    console.log(`round ${round + 1}: ${line.join(' | ')}`);
  }
  console.log(`\n${which}${stream ? ' stream (p50 = first chunk)' : ''}, ${rounds} × ${count} requests each:`);
  for (const [label, t] of totals)
    console.log(
      `  ${label.padEnd(8)} workerd CPU ${Math.round(t.cpu / t.n)} µs/request, p50 ${percentile(t.times, 50).toFixed(3)} ms` +
        (t.before.length ? ` = until the mock had the request ${percentile(t.before, 50).toFixed(3)} + from its answer ${percentile(t.after, 50).toFixed(3)} (p50s)` : ''),
    );
} finally {
  await Promise.allSettled([...new Set(running.map((r) => r.worker))].map((w) => w.close()));
  await mock.close();
  closeAgent();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);

/** CPU per thread of these processes (AB_THREADS=1): the main JavaScript thread against V8's helpers (GC, compilers). */
function threadCpu(pids: number[]): Map<string, { name: string; micros: number }> {
  const out = new Map<string, { name: string; micros: number }>();
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(`${pid}/${tid}`, { name, micros: (Number(fields[11]) + Number(fields[12])) * 10_000 });
      } catch {
        // exited
      }
    }
  }
  return out;
}
