import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

// The load generator: node:http with keep-alive sockets (lighter per request than
// fetch, so the client is not what limits throughput). Bodies are prebuilt Buffers.

const REQUEST_TIMEOUT_MS = 30_000;
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, keepAliveMsecs: 60_000 });

export interface Target {
  /** Row label, e.g. 'wrangler gateway'. */
  label: string;
  url: string;
  path: string;
  body: Buffer;
  headers: Record<string, string>;
  /** Sockets to use instead of the shared keep-alive pool (e.g. one per request, for bursts above its 256). */
  agent?: Agent;
}

export interface Timing {
  status: number;
  /** When it was sent, ms since the epoch. */
  sentAt: number;
  /** ms from sending to the first body bytes. */
  firstChunk: number;
  /** ms from sending to the end of the body. */
  total: number;
  bytes: number;
  /** How many pieces the body arrived in (socket reads). */
  reads: number;
  body?: string;
  headers: IncomingHttpHeaders;
}

export function send(target: Target, keepBody = false): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const url = new URL(target.path, target.url);
    const start = performance.now();
    const req = httpRequest(
      {
        agent: target.agent ?? agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(target.body.length), ...target.headers },
      },
      (res) => {
        let firstChunk = -1;
        let bytes = 0;
        let reads = 0;
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (firstChunk < 0) firstChunk = performance.now() - start;
          bytes += chunk.length;
          reads++;
          // Error bodies are always kept: the report names the first failure.
          if (keepBody || res.statusCode !== 200) parts.push(chunk);
        });
        res.on('end', () => {
          const total = performance.now() - start;
          resolve({
            status: res.statusCode ?? 0,
            sentAt: performance.timeOrigin + start,
            firstChunk: firstChunk < 0 ? total : firstChunk,
            total,
            bytes,
            reads,
            body: keepBody || res.statusCode !== 200 ? Buffer.concat(parts).toString('utf8') : undefined,
            headers: res.headers,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // A hung request is an error in the results, not a benchmark that never ends.
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.end(target.body);
  });
}

export interface Samples {
  /** Of each answered request, when it was sent (ms since the epoch). */
  sentAt: number[];
  firstChunk: number[];
  total: number[];
  reads: number[];
  errors: number;
  /** The first failure, for the report. */
  firstError?: string;
}

export const emptySamples = (): Samples => ({ sentAt: [], firstChunk: [], total: [], reads: [], errors: 0 });

async function record(target: Target, samples: Samples) {
  try {
    const t = await send(target, false);
    if (t.status !== 200) {
      samples.errors++;
      samples.firstError ??= `HTTP ${t.status}${t.body ? `: ${t.body.slice(0, 300)}` : ''}`;
      return;
    }
    samples.sentAt.push(t.sentAt);
    samples.firstChunk.push(t.firstChunk);
    samples.total.push(t.total);
    samples.reads.push(t.reads);
  } catch (error) {
    samples.errors++;
    samples.firstError ??= String(error);
  }
}

/** `count` requests one after another. */
export async function sequential(target: Target, count: number, samples = emptySamples(), gapMs = 0): Promise<Samples> {
  for (let i = 0; i < count; i++) {
    if (gapMs && i) await new Promise((resolve) => setTimeout(resolve, gapMs));
    await record(target, samples);
  }
  return samples;
}

/**
 * `concurrency` closed-loop clients for `durationMs`. Also returns the CPU seconds this
 * process used meanwhile (load generator and mock thread), to show it was not the limit.
 */
export async function concurrent(
  target: Target,
  concurrency: number,
  durationMs: number,
  samples = emptySamples(),
): Promise<{ samples: Samples; completed: number; seconds: number; cpuSeconds: number }> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  let completed = 0;
  const client = async () => {
    while (performance.now() < end) {
      const before = samples.errors;
      await record(target, samples);
      if (samples.errors === before) completed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const cpu = process.cpuUsage(cpu0);
  return { samples, completed, seconds: (performance.now() - start) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** p50 / p99 of one measured field, with the error count. */
export interface SampleStats {
  n: number;
  p50: number;
  p99: number;
  errors: number;
  firstError?: string;
}

export function summarize(s: Samples, field: 'total' | 'firstChunk'): SampleStats {
  return { n: s[field].length, p50: percentile(s[field], 50), p99: percentile(s[field], 99), errors: s.errors, ...(s.firstError ? { firstError: s.firstError } : {}) };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function closeAgent() {
  agent.destroy();
}
