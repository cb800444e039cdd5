import { FLOOR_TO_AGENT, type OnPremBody, type OnPremResult } from './onprem.ts';
import type { ResilienceResult, ResilienceRun } from './resilience.ts';
import type { TranslationResult } from './translation.ts';

// The printed report: measurements beside the floor, overheads above it, and the
// goals from DESIGN.md ("Benchmarks: the floor and the bar") beside the overheads.
// "met" / "over" are information for the reader, not a verdict: the run never fails on a number.

import type { SampleStats as Stats } from './load.ts';
export type { Stats };

export interface CaseResult {
  name: string;
  label: string;
  /** Notes from checking the request the gateway sent upstream (empty when all looked right). */
  checks: string[];
  runtimes: string[];
  /** cpuMicros: CPU of the target's workerd processes per request (µs; NaN for the mock). */
  sequential: Record<string, Stats & { cpuMicros?: number }>;
  /** benchCpu: CPU of the benchmark process (load generator + mock thread), in cores. */
  concurrent: Record<string, Stats & { rps: number; benchCpu: number }>;
  /** reads: median number of pieces a streamed body arrived in at the client. */
  stream: Record<string, { firstChunk: Stats; total: Stats; reads: number; cpuMicros?: number }>;
}

export interface BenchResult {
  date: string;
  machine: { cpus: number; cpuModel: string; loadavgAtEnd: number[]; node: string };
  plan: Record<string, number | boolean>;
  requestBytes: number;
  translation: TranslationResult[];
  cases: CaseResult[];
  resilience?: ResilienceResult;
  onprem?: OnPremResult;
  skipped: { case: string; reason: string }[];
  memory: { runtime: string; worker: string; workerdRssMiB: number; nodeRssMiB: number; workerdProcesses: number }[];
  seconds: number;
}

export const GOALS = {
  p50AboveFloorMs: 1,
  p50AboveFloorBarMs: 0.5,
  throughputOfFloor: 0.9,
  firstChunkAboveFloorMs: 1,
  finishAboveFloorMs: 5,
  translationCpuMicros: 500,
  onpremP50OverDirectMs: 2,
};

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const plus = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(2)}` : '–');
const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)} %` : '–');
const micros = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(0) : '–');
const verdict = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'met' : 'over');

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

const errorNote = (s: Stats) => (s.errors ? `  (${s.errors} errors: ${s.firstError})` : '');

export function printReport(r: BenchResult) {
  const out: string[] = [];
  out.push('');
  out.push(`Switchboard benchmark, ${r.date}`);
  out.push(
    `machine: ${r.machine.cpus} × ${r.machine.cpuModel}, node ${r.machine.node}, load average at end ${r.machine.loadavgAtEnd.map((l) => l.toFixed(2)).join(' ')}`,
  );
  out.push(
    `request: ${(r.requestBytes / 1024).toFixed(0)} KiB (system prompt, 6 turns + the current step, 3 × 256 px PNG screenshots as image/jpeg data URLs, ` +
      `temperature 0.1, top_p 0.95, frequency_penalty 1, max_tokens 4000); zero-latency mock upstream; ${r.plan.concurrency} concurrent; ` +
      `streams of ${r.plan.streamEvents} events${r.plan.quick ? '; QUICK run (few samples)' : ''}`,
  );
  out.push('All times in ms. "floor" = bare Hono Worker forwarding to the mock in the same runtime; "direct" = the mock called without a Worker.');
  out.push('"bench CPU" = CPU of the benchmark process itself (load generator + mock thread; 100 % = one core). "reads" = pieces a stream arrived in.');
  out.push('"workerd CPU" = CPU time of the runtime process(es) serving the target, per request, from /proc (10 ms ticks): little moved by other load on the machine, unlike the times.');
  out.push('"floor (JS relay)" = the floor handing each streamed piece through JavaScript (read, enqueue; no translation): what any Worker that touches every event pays in this runtime.');
  out.push(
    '"translator" = the bare translator (bench/bare-translator.ts): the gateway\'s own parse, translation, provider call and stream translation, with none of its other features ' +
      '(key check, request id, usage meter, on-prem peek, retry policy): what its translating costs by itself in this runtime.',
  );

  if (r.translation.length) out.push('\nTranslation alone, per call (no I/O): Node 22 in-process CPU, and inside workerd (the gateway\'s runtime)');
  if (r.translation.length) out.push(
    table(
      ['case', 'Node µs CPU', 'workerd µs', 'goal', ''],
      r.translation.map((t) => {
        const goal = t.case.includes('per request (request + response)');
        // The gateway runs in workerd: judge by that when it was measured.
        const judged = t.workerdMicros ?? t.cpuMicros;
        return [
          t.case,
          t.cpuMicros.toFixed(0),
          t.workerdMicros === undefined ? '–' : t.workerdMicros.toFixed(0),
          goal ? `≤ ${GOALS.translationCpuMicros}` : '',
          goal ? verdict(judged <= GOALS.translationCpuMicros) : '',
        ];
      }),
    ),
  );

  for (const c of r.cases) {
    out.push(`\n=== ${c.label} ===`);
    for (const note of c.checks) out.push(`  note: ${note}`);
    const direct = c.sequential['direct (mock)'];
    out.push(`\nSequential (${direct.n} requests each, one at a time)`);
    out.push(
      table(
        ['target', 'p50', 'p99', 'p50 over direct', 'p99 over direct', 'workerd CPU µs/req'],
        Object.entries(c.sequential).map(([label, s]) => [label + errorNote(s), ms(s.p50), ms(s.p99), plus(s.p50 - direct.p50), plus(s.p99 - direct.p99), micros(s.cpuMicros)]),
      ),
    );
    const cdirect = c.concurrent['direct (mock)'];
    out.push(`\n${r.plan.concurrency} concurrent (closed loop)`);
    out.push(
      table(
        ['target', 'req/s', 'p50', 'p99', 'p50 over direct', 'p99 over direct', 'bench CPU'],
        Object.entries(c.concurrent).map(([label, s]) => [
          label + errorNote(s),
          s.rps.toFixed(0),
          ms(s.p50),
          ms(s.p99),
          plus(s.p50 - cdirect.p50),
          plus(s.p99 - cdirect.p99),
          pct(s.benchCpu),
        ]),
      ),
    );
    out.push(`\nStreaming ${r.plan.streamEvents}-event answer (one at a time)`);
    out.push(
      table(
        ['target', 'first chunk p50', 'p99', 'finished p50', 'p99', 'reads', 'workerd CPU µs/stream'],
        Object.entries(c.stream).map(([label, s]) => [
          label + errorNote(s.total),
          ms(s.firstChunk.p50),
          ms(s.firstChunk.p99),
          ms(s.total.p50),
          ms(s.total.p99),
          String(s.reads),
          micros(s.cpuMicros),
        ]),
      ),
    );

    out.push('\nGateway above the floor (same runtime)');
    const translated = c.name !== 'openai';
    const rows: string[][] = [];
    const row = (name: string, values: (rt: string) => number, fmt: (v: number) => string, goal: string, ok?: (v: number) => boolean) => {
      const vs = c.runtimes.map(values);
      rows.push([name, ...vs.map((v) => `${fmt(v)}${ok && Number.isFinite(v) ? ` ${verdict(ok(v))}` : ''}`), goal]);
    };
    const seq = (rt: string) => [c.sequential[`${rt} gateway`], c.sequential[`${rt} floor`]];
    const conc = (rt: string) => [c.concurrent[`${rt} gateway`], c.concurrent[`${rt} floor`]];
    const str = (rt: string) => [c.stream[`${rt} gateway`], c.stream[`${rt} floor`]];
    row('p50, sequential', (rt) => seq(rt)[0].p50 - seq(rt)[1].p50, plus, `≤ ${GOALS.p50AboveFloorMs} ms (bar ≤ ${GOALS.p50AboveFloorBarMs})`, (v) => v <= GOALS.p50AboveFloorMs);
    // The bare translator (bare-translator.ts): the gateway's parse, translation and provider call alone.
    const bare = (rt: string) => ({ seq: c.sequential[`${rt} translator`], str: c.stream[`${rt} translator`] });
    const bared = c.runtimes.every((rt) => bare(rt).seq && bare(rt).str);
    if (bared) {
      row('  of which the bare translator', (rt) => bare(rt).seq.p50 - seq(rt)[1].p50, plus, '');
      row('p50 above the bare translator', (rt) => seq(rt)[0].p50 - bare(rt).seq.p50, plus, '');
    }
    row('p99, sequential', (rt) => seq(rt)[0].p99 - seq(rt)[1].p99, plus, '');
    row(`p50, ${r.plan.concurrency} concurrent`, (rt) => conc(rt)[0].p50 - conc(rt)[1].p50, plus, '');
    row(`p99, ${r.plan.concurrency} concurrent`, (rt) => conc(rt)[0].p99 - conc(rt)[1].p99, plus, '');
    row('throughput, % of floor', (rt) => conc(rt)[0].rps / conc(rt)[1].rps, pct, `≥ ${GOALS.throughputOfFloor * 100} %`, (v) => v >= GOALS.throughputOfFloor);
    row('first chunk delay, p50', (rt) => str(rt)[0].firstChunk.p50 - str(rt)[1].firstChunk.p50, plus, `≤ ${GOALS.firstChunkAboveFloorMs} ms`, (v) => v <= GOALS.firstChunkAboveFloorMs);
    if (bared) {
      row('  of which the bare translator', (rt) => bare(rt).str.firstChunk.p50 - str(rt)[1].firstChunk.p50, plus, '');
      row('first chunk above the bare translator', (rt) => str(rt)[0].firstChunk.p50 - bare(rt).str.firstChunk.p50, plus, '');
    }
    const relay = (rt: string) => c.stream[`${rt} floor (JS relay)`];
    const relayed = c.runtimes.every((rt) => relay(rt));
    // Every stream this gateway serves is read through JavaScript (translated, or tapped for its usage).
    if (relayed) {
      row('  of which the runtime (JS relay)', (rt) => relay(rt).firstChunk.p50 - str(rt)[1].firstChunk.p50, plus, '');
      row('first chunk above the JS relay, p50', (rt) => str(rt)[0].firstChunk.p50 - relay(rt).firstChunk.p50, plus, '');
    }
    row(
      'finish delay, p50',
      (rt) => str(rt)[0].total.p50 - str(rt)[1].total.p50,
      plus,
      translated ? `≤ ${GOALS.finishAboveFloorMs} ms` : '',
      translated ? (v) => v <= GOALS.finishAboveFloorMs : undefined,
    );
    if (translated && relayed) {
      row('  of which the runtime (JS relay)', (rt) => relay(rt).total.p50 - str(rt)[1].total.p50, plus, '');
      row('finish above the JS relay, p50', (rt) => str(rt)[0].total.p50 - relay(rt).total.p50, plus, '');
    }
    const cpuMs = (v: number) => (Number.isFinite(v) ? `${plus(v / 1000)} ms` : '–');
    row('workerd CPU per request', (rt) => (seq(rt)[0].cpuMicros ?? NaN) - (seq(rt)[1].cpuMicros ?? NaN), cpuMs, '');
    if (bared) row('  of which the bare translator', (rt) => (bare(rt).seq.cpuMicros ?? NaN) - (seq(rt)[1].cpuMicros ?? NaN), cpuMs, '');
    row('workerd CPU per stream', (rt) => (str(rt)[0].cpuMicros ?? NaN) - (str(rt)[1].cpuMicros ?? NaN), cpuMs, '');
    out.push(table(['overhead', ...c.runtimes, 'goal'], rows));
  }

  if (r.cases.length > 0) {
    out.push('\n=== Runtimes: the floor itself (bare forwarding Worker, first case) ===');
    const c = r.cases[0];
    out.push(
      table(
        ['runtime', 'p50 over direct', 'req/s at 32', 'first chunk over direct', 'stream finished over direct'],
        c.runtimes.map((rt) => [
          rt,
          plus(c.sequential[`${rt} floor`].p50 - c.sequential['direct (mock)'].p50),
          c.concurrent[`${rt} floor`].rps.toFixed(0),
          plus(c.stream[`${rt} floor`].firstChunk.p50 - c.stream['direct (mock)'].firstChunk.p50),
          plus(c.stream[`${rt} floor`].total.p50 - c.stream['direct (mock)'].total.p50),
        ]),
      ),
    );
    out.push('  (DESIGN.md reference on a 2-core machine: wrangler dev floor ≈ +6 ms p50, ≈ 280 req/s, first chunk ≈ +6.5 ms)');
    out.push(`  direct (mock) at ${r.plan.concurrency} concurrent: ${c.concurrent['direct (mock)'].rps.toFixed(0)} req/s, the load generator's ceiling on this machine.`);
  }

  if (r.resilience) out.push(...resilienceReport(r.resilience));
  if (r.onprem) out.push(...onpremReport(r.onprem));

  if (r.memory.length) out.push('\nMemory after load (RSS, MiB)');
  if (r.memory.length) out.push(
    table(
      ['runtime', 'worker', 'workerd', 'wrangler (node)'],
      r.memory.map((m) => [m.runtime, m.worker, `${m.workerdRssMiB.toFixed(0)} (${m.workerdProcesses} proc)`, m.runtime === 'wrangler' ? m.nodeRssMiB.toFixed(0) : '–']),
    ),
  );

  if (r.skipped.length) {
    out.push('\nSkipped');
    for (const s of r.skipped) out.push(`  ${s.case}: ${s.reason}`);
  }
  out.push(`\n(${r.seconds.toFixed(0)} s; numbers from a shared or busy machine are noisy: compare ratios within this run only.)`);
  console.log(out.join('\n'));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2 : NaN;
};

function resilienceReport(res: ResilienceResult): string[] {
  const { config } = res;
  const out: string[] = [];
  out.push(`\n=== Resilience: ${config.requests} concurrent requests at one alias of two deployments (${res.runtime}) ===`);
  out.push(`  the benchmark request (as above), non-streamed, then streamed (${config.streamEvents}-event answers).`);
  out.push(
    `  "failing": deployment "limited" answers Azure's 429 to ${pct(config.rate)} of its calls (retry-after-ms ${config.retryAfterMs}), "healthy" never fails; ` +
      `"clean": deployments "a" and "b" never fail. [vars.ROUTING] ${JSON.stringify(config.routing)}, the rest at the defaults; fresh deployments each round.`,
  );
  const sum = (run: ResilienceRun, field: 'calls' | 'ok' | 'rateLimited') => Object.values(run.upstream).reduce((n, u) => n + u[field], 0);
  const histogram = (t: Record<string, number>) =>
    Object.entries(t)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([k, v]) => `${k}×${v}`)
      .join(' ') || '–';
  out.push(
    table(
      ['run', 'completed', 'time s', 'p50 ms', 'p99 ms', 'attempts: n×requests', 'Σ attempts', 'upstream calls (ok + 429)', 'answered by'],
      res.runs.map((run) => [
        `${run.kind}${run.stream ? ' stream' : ''} ${run.round}`,
        `${run.completed}/${run.requests}${Object.keys(run.failures).length ? ` (${Object.entries(run.failures).map(([k, v]) => `${v}× ${k}`).join(', ')})` : ''}`,
        run.seconds.toFixed(2),
        ms(run.p50),
        ms(run.p99),
        histogram(run.attempts),
        String(run.attemptsTotal),
        `${sum(run, 'calls')} (${sum(run, 'ok')} + ${sum(run, 'rateLimited')})`,
        Object.entries(run.upstream)
          .map(([name, u]) => `${name} ${run.answeredBy[name] ?? 0}/${u.calls}`)
          .join(', '),
      ]),
    ),
  );
  out.push('  ("answered by": requests a deployment answered / calls it received at the mock.)');
  // Nothing lost: every request completed, and the mock answered exactly as many. Nothing
  // doubled: no more answers at the mock than requests, and every call the mock saw is an attempt some request counted.
  const faults = res.runs.filter((run) => run.completed !== run.requests || sum(run, 'ok') !== run.requests || sum(run, 'calls') !== run.attemptsTotal);
  out.push(
    faults.length
      ? `  ACCOUNTING MISMATCH in ${faults.map((f) => `${f.kind}${f.stream ? ' stream' : ''} ${f.round}`).join(', ')}: completed, ok answers at the mock and Σ attempts = upstream calls should all agree`
      : `  every run: ${config.requests}/${config.requests} completed, ${config.requests} answers at the mock (none lost, none sent twice), Σ x-switchboard-attempts = upstream calls`,
  );
  for (const stream of [false, true]) {
    const of = (kind: ResilienceRun['kind'], f: (r: ResilienceRun) => number) => median(res.runs.filter((run) => run.kind === kind && run.stream === stream).map(f));
    const [clean, failing] = [of('clean', (r) => r.seconds), of('failing', (r) => r.seconds)];
    if (!Number.isFinite(clean)) continue;
    out.push(
      `  ${stream ? 'streamed' : 'non-streamed'}, burst time, median of ${stream ? config.streamRounds : config.rounds} rounds: clean ${clean.toFixed(2)} s, failing ${failing.toFixed(2)} s ` +
        `(${plus(failing - clean)} s, ×${(failing / clean).toFixed(2)}); p99 clean ${ms(of('clean', (r) => r.p99))} ms, failing ${ms(of('failing', (r) => r.p99))} ms`,
    );
  }
  return out;
}

function onpremReport(o: OnPremResult): string[] {
  const out: string[] = [];
  const direct = 'direct (engine)';
  const gateway = 'gateway → tunnel';
  out.push(`\n=== On-prem: gateway → tunnel → agent → engine (${o.runtime}; agent on Node ${o.agentNode}) ===`);
  out.push(
    `  one mock vLLM replica (test/engines/mock-engine.mjs, zero latency) started by a real switchboard-agent, which dials the gateway's OnPremModel ` +
      `Durable Object and also serves --listen; the benchmark request (${(o.config.requestBytes / 1024).toFixed(0)} KiB) with model "${o.config.model}". ` +
      '"miniflare floor" = a bare Worker forwarding to the engine over HTTP in the same runtime; "floor → agent --listen" = that Worker forwarding to the agent\'s --listen instead.',
  );
  const d = o.sequential[direct];
  out.push(`\nSequential (${d.n} requests each, one at a time)`);
  out.push(
    table(
      ['target', 'p50', 'p99', 'p50 over direct', 'p99 over direct', 'CPU µs/request: engine', 'agent', 'workerd'],
      o.labels.map((l) => {
        const s = o.sequential[l];
        return [l + errorNote(s), ms(s.p50), ms(s.p99), plus(s.p50 - d.p50), plus(s.p99 - d.p99), ...(s.cpu ? [s.cpu.engine, s.cpu.agent, s.cpu.workerd].map((us) => (us ? us.toFixed(0) : '-')) : ['', '', ''])];
      }),
    ),
  );
  out.push('  (CPU from /proc in 10 ms ticks, summed over the rounds: read it to ±10 µs; "agent" on the direct path is the agent idling.)');
  const cd = o.concurrent[direct];
  out.push(`\n${o.config.concurrency} concurrent (closed loop)`);
  out.push(
    table(
      ['target', 'req/s', 'p50', 'p99', 'p50 over direct', 'p99 over direct'],
      o.labels.map((l) => {
        const s = o.concurrent[l];
        return [l + errorNote(s), s.rps.toFixed(0), ms(s.p50), ms(s.p99), plus(s.p50 - cd.p50), plus(s.p99 - cd.p99)];
      }),
    ),
  );
  const sd = o.stream[direct];
  out.push(`\nStreaming ${o.config.streamEvents}-event answer from the engine (one at a time)`);
  out.push(
    table(
      ['target', 'first chunk p50', 'p99', 'finished p50', 'p99', 'first chunk over direct', 'finish over direct', 'reads'],
      o.labels.map((l) => {
        const s = o.stream[l];
        return [l + errorNote(s.total), ms(s.firstChunk.p50), ms(s.firstChunk.p99), ms(s.total.p50), ms(s.total.p99), plus(s.firstChunk.p50 - sd.firstChunk.p50), plus(s.total.p50 - sd.total.p50), String(s.reads)];
      }),
    ),
  );

  const { streams, chunks, delayMs } = o.config.burst;
  out.push(
    `\n${streams} streams opened at once (new connections; ${chunks} events ${delayMs} ms apart at the engine, so each lasts ≥ ${((chunks * delayMs) / 1000).toFixed(1)} s and all are open together), over one agent connection`,
  );
  const failures = (b: OnPremResult['bursts'][number]) => Object.entries(b.failures).map(([k, v]) => `${v}× ${k}`).join(', ');
  out.push(
    table(
      ['target', 'completed', 'errors', 'time s', 'p50 ms', 'p99 ms', 'peak in flight at engine', 'agent RSS before/peak/after', 'workerd RSS before/peak/after'],
      o.bursts.map((b) => {
        const rss = (x: number, y: number, z: number) => `${x.toFixed(0)} / ${y.toFixed(0)} / ${z.toFixed(0)}`;
        return [
          b.target,
          `${b.completed}/${b.streams}`,
          `${b.streams - b.completed}${failures(b) ? ` (${failures(b)})` : ''}`,
          b.seconds.toFixed(2),
          ms(b.p50),
          ms(b.p99),
          String(b.peakEngineInFlight),
          rss(b.rss.agentBefore, b.rss.agentPeak, b.rss.agentAfter),
          rss(b.rss.workerdBefore, b.rss.workerdPeak, b.rss.workerdAfter),
        ];
      }),
    ),
  );
  out.push('  (RSS in MiB, from /proc: the agent process, and the gateway\'s workerd.)');

  out.push('\nRequest body size through the tunnel: peak RSS while sending (sampled every 5 ms), above the RSS just before');
  out.push(
    table(
      ['body', 'requests', 'gateway p50 ms', 'direct p50 ms', 'agent peak (+ over before)', 'workerd peak (+ over before)'],
      o.bodies.map((b) => [
        b.label + (b.errors ? `  (${b.errors} errors)` : ''),
        String(b.requests),
        ms(b.p50),
        ms(b.directP50),
        `${b.agentPeak.toFixed(0)} (${plus(b.agentPeak - b.agentBaseline)})`,
        `${b.workerdPeak.toFixed(0)} (${plus(b.workerdPeak - b.workerdBaseline)})`,
      ]),
    ),
  );

  // Goals of issue 4, beside the numbers.
  const added = o.sequential[gateway].p50 - d.p50;
  const burst = o.bursts.find((b) => b.target === gateway);
  const [small, big, huge] = o.bodies;
  const mib = (b?: OnPremBody) => (b ? b.bytes / 1024 / 1024 : NaN);
  // How much more one body raised a process's peak RSS than another did.
  const extra = (which: 'agent' | 'workerd', larger?: OnPremBody, smaller?: OnPremBody) =>
    larger && smaller ? larger[`${which}Peak`] - larger[`${which}Baseline`] - (smaller[`${which}Peak`] - smaller[`${which}Baseline`]) : NaN;
  const rows: string[][] = [
    ['p50 added over direct, sequential', `${plus(added)} ms`, `≤ ${GOALS.onpremP50OverDirectMs} ms`, verdict(added <= GOALS.onpremP50OverDirectMs)],
    ...(o.sequential[FLOOR_TO_AGENT]
      ? [
          ['  of which both hops over plain HTTP (floor → agent --listen)', `${plus(o.sequential[FLOOR_TO_AGENT].p50 - d.p50)} ms`, '', ''],
          ['  the tunnel above that (Durable Object, WebSocket, frames)', `${plus(o.sequential[gateway].p50 - o.sequential[FLOOR_TO_AGENT].p50)} ms`, '', ''],
        ]
      : []),
    [`p50 added over direct, ${o.config.concurrency} concurrent`, `${plus(o.concurrent[gateway].p50 - cd.p50)} ms`, '', ''],
    ['first chunk / finish added, 300 events', `${plus(o.stream[gateway].firstChunk.p50 - sd.firstChunk.p50)} / ${plus(o.stream[gateway].total.p50 - sd.total.p50)} ms`, '', ''],
    [
      `${streams} concurrent streams, errors`,
      burst ? `${burst.streams - burst.completed} (${burst.peakEngineInFlight} open at once)` : '–',
      '0',
      burst ? verdict(burst.completed === burst.streams) : '',
    ],
  ];
  // "Memory independent of body size": the 60 MiB body must raise a process's peak by less than three
  // quarters of its size (a copy held whole would add all of it). The peaks also carry garbage: the Durable
  // Object's freed 256 KiB frames add up to 20–37 MiB before the collector runs, whatever the body's size,
  // so the comparisons between bodies are shown, not judged.
  for (const which of ['agent', 'workerd'] as const) {
    const added = (b?: OnPremBody) => (b ? b[`${which}Peak`] - b[`${which}Baseline`] : NaN);
    const allowance = (mib(huge) * 3) / 4;
    rows.push([
      `${which}: peak RSS added, small / ${mib(big).toFixed(0)} / ${mib(huge).toFixed(0)} MiB body`,
      `${plus(added(small))} / ${plus(added(big))} / ${plus(added(huge))} MiB`,
      `${mib(huge).toFixed(0)} MiB: < ${allowance.toFixed(0)} (never held whole)`,
      Number.isFinite(added(huge)) ? verdict(added(huge) < allowance) : '',
    ]);
    rows.push([`${which}: ${mib(huge).toFixed(0)} MiB body vs ${mib(big).toFixed(0)} MiB (garbage aside: ≈ 0)`, `${plus(extra(which, huge, big))} MiB`, '', '']);
  }
  out.push('\nOn-prem goals');
  out.push(table(['measure', 'value', 'goal', ''], rows));
  return out;
}
