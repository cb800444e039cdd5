import { join } from 'node:path';
import { closeAgent, percentile, send, type Target, type Timing } from './load.ts';
import type { MockUpstream, PathCount } from './mock-client.ts';
import { benchmarkRequest } from './request.ts';
import { gatewayToml, root, startMiniflare } from './runtimes.ts';
import { STREAM_EVENTS } from './upstream-responses.ts';

// The resilience case: a burst of benchmark-style requests, all at once, at an alias
// whose two deployments are on the mock, one of which answers 429 (Azure's, with
// retry-after and retry-after-ms) to half of its calls, beside the same burst at an
// alias whose deployments never fail. Counted at the client (status, answer,
// x-switchboard-attempts, x-switchboard-deployment) and at the mock (calls per
// deployment, answered and rate limited), so a request lost or sent twice shows.
// Each round uses fresh deployments: the health one round taught the gateway
// (cooldowns) does not carry into the next. The same bursts are then sent as streams
// (a 429 comes before the first byte, so a stream is retried like any request).

export const RESILIENCE = {
  requests: 200,
  /** Rounds of non-streamed bursts (each clean and failing), and of streamed ones (≈ 4 s a burst on 2 cores). */
  rounds: 5,
  streamRounds: 3,
  /** Share of the limited deployment's calls answered 429. */
  rate: 0.5,
  retryAfterMs: 250,
  /** The bench gateway's [vars.ROUTING]: small backoffs, the rest at the defaults. */
  routing: { backoff_base_ms: 20, backoff_max_ms: 200 },
};

export interface ResilienceRun {
  kind: 'clean' | 'failing';
  stream: boolean;
  round: number;
  requests: number;
  /** 200 with a valid completion. */
  completed: number;
  failures: Record<string, number>;
  seconds: number;
  p50: number;
  p99: number;
  /** x-switchboard-attempts → how many requests took that many. */
  attempts: Record<string, number>;
  attemptsTotal: number;
  /** x-switchboard-deployment → requests it answered. */
  answeredBy: Record<string, number>;
  /** At the mock, per deployment name. */
  upstream: Record<string, PathCount>;
}

export interface ResilienceResult {
  runtime: 'miniflare';
  config: typeof RESILIENCE & { streamEvents: number };
  runs: ResilienceRun[];
}

type Kind = ResilienceRun['kind'];
const deploymentNames = (kind: Kind) => (kind === 'clean' ? ['a', 'b'] : ['limited', 'healthy']);
const alias = (kind: Kind, stream: boolean, round: number) => `${kind}${stream ? '-stream' : ''}-${round}`;
const upstreamName = (kind: Kind, stream: boolean, round: number, name: string) => `${alias(kind, stream, round)}-${name}`;

function models(endpoint: string, rounds: number) {
  const azure = (deployment: string, name: string) => ({ target: `azure/${deployment}`, name, endpoint });
  const out: Record<string, unknown> = { warm: { deployments: [azure('warm-a', 'a'), azure('warm-b', 'b')] } };
  for (let round = 1; round <= rounds; round++) {
    for (const kind of ['clean', 'failing'] as const) {
      for (const stream of [false, true]) {
        out[alias(kind, stream, round)] = { deployments: deploymentNames(kind).map((name) => azure(upstreamName(kind, stream, round, name), name)) };
      }
    }
  }
  return out;
}

export async function resilienceBench(dir: string, mock: MockUpstream, gatewayKey: string, images: Buffer[], quick = false): Promise<ResilienceResult> {
  const config = { ...RESILIENCE, ...(quick ? { rounds: 3, streamRounds: 1 } : {}), streamEvents: STREAM_EVENTS };
  const gateway = await startMiniflare(dir, {
    name: 'gateway',
    main: join(root, 'src/index.ts'),
    toml: gatewayToml(),
    migrate: true,
    // .dev.vars values override wrangler.toml's [vars]; MODELS and ROUTING are read as JSON strings.
    devVars: {
      GATEWAY_KEYS: gatewayKey,
      AZURE_OPENAI_API_KEY: 'azure-bench-key',
      AZURE_OPENAI_ENDPOINT: mock.url,
      MODELS: `'${JSON.stringify(models(mock.url, Math.max(config.rounds, config.streamRounds)))}'`,
      ROUTING: `'${JSON.stringify(RESILIENCE.routing)}'`,
    },
  });
  try {
    const target = (model: string, stream: boolean): Target => ({
      label: model,
      url: gateway.url,
      path: '/v1/chat/completions',
      body: Buffer.from(JSON.stringify(benchmarkRequest(model, stream, images))),
      headers: { authorization: `Bearer ${gatewayKey}` },
    });
    // Not measured: compiles the gateway's code paths and opens the sockets a burst needs.
    await mock.rateLimit([]);
    await burst(target('warm', false));
    await burst(target('warm', true));

    const runs: ResilienceRun[] = [];
    for (const stream of [false, true]) {
      for (let round = 1; round <= (stream ? config.streamRounds : config.rounds); round++) {
        // Alternating order, so that drift in machine load hits both alike.
        const order: Kind[] = round % 2 ? ['clean', 'failing'] : ['failing', 'clean'];
        for (const kind of order) {
          const limited = upstreamName('failing', stream, round, 'limited');
          await mock.rateLimit([{ match: `/deployments/${limited}/`, rate: RESILIENCE.rate, retryAfterMs: RESILIENCE.retryAfterMs }]);
          const { seconds, results } = await burst(target(alias(kind, stream, round), stream));
          const paths = await mock.paths();
          runs.push(summarize(kind, stream, round, seconds, results, paths));
        }
      }
    }
    return { runtime: 'miniflare', config, runs };
  } finally {
    await gateway.close();
  }
}

async function burst(target: Target): Promise<{ seconds: number; results: (Timing | Error)[] }> {
  // New connections for each burst, as 200 new clients would open. Reusing the sockets
  // kept alive from the previous burst made 12–17 % of a streamed burst fail with
  // ECONNRESET before reaching the gateway, clean runs included (the local runtime's
  // connection handling, not the router); with new connections none failed.
  closeAgent();
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: RESILIENCE.requests }, () => send(target, true).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))),
  );
  return { seconds: (performance.now() - start) / 1000, results };
}

function summarize(kind: Kind, stream: boolean, round: number, seconds: number, results: (Timing | Error)[], paths: Record<string, PathCount>): ResilienceRun {
  const failures: Record<string, number> = {};
  const attempts: Record<string, number> = {};
  const answeredBy: Record<string, number> = {};
  const totals: number[] = [];
  let completed = 0;
  let attemptsTotal = 0;
  const count = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);
  for (const r of results) {
    if (r instanceof Error) {
      count(failures, r.message);
      continue;
    }
    const n = Number(r.headers['x-switchboard-attempts']);
    if (Number.isFinite(n) && n > 0) {
      count(attempts, String(n));
      attemptsTotal += n;
    }
    const problem = r.status !== 200 ? `HTTP ${r.status}` : stream ? streamProblem(r.body ?? '') : completionProblem(r.body ?? '');
    if (problem) {
      count(failures, problem);
      continue;
    }
    completed++;
    totals.push(r.total);
    count(answeredBy, String(r.headers['x-switchboard-deployment'] ?? '?'));
  }
  const upstream: Record<string, PathCount> = {};
  for (const name of deploymentNames(kind)) {
    const path = Object.keys(paths).find((p) => p.includes(`/deployments/${upstreamName(kind, stream, round, name)}/`));
    upstream[name] = path ? paths[path] : { calls: 0, ok: 0, rateLimited: 0 };
  }
  return { kind, stream, round, requests: results.length, completed, failures, seconds, p50: percentile(totals, 50), p99: percentile(totals, 99), attempts, attemptsTotal, answeredBy, upstream };
}

function completionProblem(text: string): string | null {
  try {
    const body = JSON.parse(text);
    return typeof body?.choices?.[0]?.message?.content === 'string' && body.choices[0].message.content.length > 0 ? null : 'no message content';
  } catch {
    return 'not JSON';
  }
}

function streamProblem(text: string): string | null {
  const events = text.split(/\n\n/).filter((e) => e.startsWith('data: '));
  if (events.at(-1) !== 'data: [DONE]') return 'stream does not end with [DONE]';
  let content = 0;
  for (const e of events.slice(0, -1)) {
    const chunk = JSON.parse(e.slice(6));
    if (chunk.error) return `error chunk: ${chunk.error.message}`;
    if (chunk.choices?.[0]?.delta?.content) content++;
  }
  return content === STREAM_EVENTS ? null : `${content} content chunks, expected ${STREAM_EVENTS}`;
}
