import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { closeAgent, percentile, sequential, type Target } from './load.ts';
import { ONPREM, startAgent, systemNode, TOKEN, type RunningAgent } from './onprem.ts';
import { benchmarkRequest, screenshots } from './request.ts';
import { cpuMicros, gatewayToml, root, startMiniflare, type RunningWorker } from './runtimes.ts';

// `node bench/ab-onprem.ts [--src=<dir>,<dir>,…] [--n=300] [--rounds=6] [--no-usage]`
//
// Versions of the on-prem path side by side: for each checkout (default: this one), its
// gateway under Miniflare and its own switchboard-agent with one mock vLLM replica, plus
// the first replica called directly; alternating rounds of n sequential benchmark
// requests. Prints each one's p50 over direct and the CPU per request of every process on
// its path (workerd, agent, engine): the quick way to tell whether a change to the tunnel,
// the Durable Object or the agent helped, below the noise of separate runs. Usage
// accounting is on (the D1 usage table migrated) unless --no-usage.

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string?]));
const count = Number(args.get('n') ?? 300);
const rounds = Number(args.get('rounds') ?? 6);
const sources = args.has('src') ? args.get('src')!.split(',').map((d) => resolve(d)) : [resolve(root)];
const labelOf = (dir: string) => (dir === resolve(root) ? 'this' : basename(dir));
const gatewayKey = 'sk-switchboard-ab-onprem';

const work = mkdtempSync(join(tmpdir(), 'switchboard-ab-onprem-'));
const started: { close(): Promise<void> }[] = [];
try {
  const node = systemNode();
  const versions: { label: string; gateway: RunningWorker; agent: RunningAgent }[] = [];
  for (const dir of sources) {
    const label = labelOf(dir);
    const gateway = await startMiniflare(join(work, label, 'gateway'), {
      name: 'gateway',
      main: join(dir, 'src/index.ts'),
      toml: gatewayToml(),
      migrate: !args.has('no-usage'),
      devVars: { GATEWAY_KEYS: gatewayKey, AGENT_TOKENS: TOKEN },
    });
    started.push(gateway);
    const agent = await startAgent(join(work, label, 'agent'), gateway.url, gatewayKey, node, dir);
    started.push({ close: agent.stop });
    versions.push({ label, gateway, agent });
  }
  const body = Buffer.from(JSON.stringify(benchmarkRequest(ONPREM.model, false, screenshots())));
  const first = versions[0].agent;
  const targets: { target: Target; pids: Record<string, number[]> }[] = [
    { target: { label: 'direct', url: first.engineUrl, path: '/v1/chat/completions', body, headers: {} }, pids: { engine: [first.enginePid] } },
    ...versions.map(({ label, gateway, agent }) => ({
      target: { label, url: gateway.url, path: '/v1/chat/completions', body, headers: { authorization: `Bearer ${gatewayKey}` } },
      pids: { workerd: gateway.pids().workerd, agent: [agent.pid], engine: [agent.enginePid] },
    })),
  ];
  for (const { target } of targets) await sequential(target, 40);
  const totals = new Map(targets.map(({ target }) => [target.label, { times: [] as number[], cpu: new Map<string, number>(), n: 0 }]));
  for (let round = 0; round < rounds; round++) {
    const line: string[] = [];
    for (const { target, pids } of round % 2 ? [...targets].reverse() : targets) {
      const before = Object.entries(pids).map(([name, p]) => [name, cpuMicros(p)] as const);
      const samples = await sequential(target, count);
      const total = totals.get(target.label)!;
      for (const [name, micros] of before) total.cpu.set(name, (total.cpu.get(name) ?? 0) + cpuMicros(pids[name]) - micros);
      total.times.push(...samples.total);
      total.n += count;
      line.push(`${target.label} ${percentile(samples.total, 50).toFixed(2)} ms${samples.errors ? ` (${samples.errors} errors: ${samples.firstError})` : ''}`);
    }
    console.log(`round ${round + 1}: ${line.join(' | ')}`);
  }
  const direct = percentile(totals.get('direct')!.times, 50);
  console.log(`\non-prem, ${rounds} × ${count} sequential benchmark requests each${args.has('no-usage') ? ', no usage accounting' : ''}:`);
  for (const [label, t] of totals)
    console.log(
      `  ${label.padEnd(10)} p50 ${percentile(t.times, 50).toFixed(3)} ms (+${(percentile(t.times, 50) - direct).toFixed(3)} over direct); CPU µs/request: ` +
        [...t.cpu].map(([name, micros]) => `${name} ${Math.round(micros / t.n)}`).join(', '),
    );
} finally {
  for (const s of started.reverse()) await s.close().catch(() => {});
  closeAgent();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
