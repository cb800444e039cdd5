import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import {
  anthropicJson,
  anthropicSse,
  encodeSse,
  GEMINI_SSE_SEPARATOR,
  geminiJson,
  geminiSse,
  openaiJson,
  openaiSse,
} from './upstream-responses.ts';
import { upstreamModel } from './models.ts';

// The zero-latency mock upstream for the benchmark, run in a worker thread so that
// serving requests never stalls the load generator's clock. One server answers all
// three wire formats by path, like the real APIs:
//   OpenAI     POST …/chat/completions                       (stream by body `stream`)
//   Anthropic  POST …/v1/messages                             (stream by body `stream`)
//   Gemini     POST …/models/{model}:generateContent | :streamGenerateContent?alt=sse
// Unlike test/upstreams/, it checks no keys and records only the last body per route
// (the harness checks once that the gateway sent a translated request); responses are
// prebuilt bytes, and a stream is written event by event without pauses.
// For the resilience case it also counts calls per path, and answers a scripted share
// of the calls to matching paths with Azure's 429 (retry-after and retry-after-ms).

type Route = 'openai' | 'anthropic' | 'gemini';

const json = {
  openai: Buffer.from(openaiJson(upstreamModel('openai'))),
  anthropic: Buffer.from(anthropicJson(upstreamModel('anthropic'))),
  gemini: Buffer.from(geminiJson(upstreamModel('gemini'))),
};
const sse = {
  openai: encodeSse(openaiSse(upstreamModel('openai'))),
  anthropic: encodeSse(anthropicSse(upstreamModel('anthropic'))),
  gemini: encodeSse(geminiSse(upstreamModel('gemini')), GEMINI_SSE_SEPARATOR),
};

const lastBody: Partial<Record<Route, { path: string; body: string; headers: Record<string, unknown> }>> = {};
const counts: Record<Route, number> = { openai: 0, anthropic: 0, gemini: 0 };

/** Calls to paths containing `match` answer 429 at this rate (0–1), spread evenly: rate 0.5 is every other call, the first included. */
export interface RateLimitRule {
  match: string;
  rate: number;
  retryAfterMs: number;
}
let rateLimits: RateLimitRule[] = [];
const byPath = new Map<string, { calls: number; ok: number; rateLimited: number }>();

/** Whether call number n (from 0) to a path under this rule is one of its 429s. */
const limitedCall = (n: number, rate: number) => Math.ceil((n + 1) * rate) > Math.ceil(n * rate);

// Azure OpenAI's 429 (its body and both headers: retry-after in whole seconds, retry-after-ms exact).
function sendRateLimited(res: ServerResponse, retryAfterMs: number) {
  const body = JSON.stringify({
    error: {
      code: '429',
      message: `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after ${Math.ceil(retryAfterMs / 1000)} second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
    },
  });
  res.writeHead(429, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'retry-after': String(Math.ceil(retryAfterMs / 1000)),
    'retry-after-ms': String(retryAfterMs),
  });
  res.end(body);
}

function routeOf(path: string): { route: Route; stream?: boolean } | undefined {
  if (path.endsWith('/chat/completions')) return { route: 'openai' };
  if (path.endsWith('/v1/messages')) return { route: 'anthropic' };
  if (path.endsWith(':generateContent')) return { route: 'gemini', stream: false };
  if (path.endsWith(':streamGenerateContent')) return { route: 'gemini', stream: true };
  return undefined;
}

/** When each recent request's body was in and its answer written (ms since the epoch, µs precision), for bench/ab.ts. */
const timeline: { received: number; answered: number; newSocket: boolean }[] = [];
const seenSockets = new WeakSet<object>();
const now = () => performance.timeOrigin + performance.now();

async function handle(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const received = now();
  const newSocket = !seenSockets.has(req.socket);
  seenSockets.add(req.socket);
  const body = Buffer.concat(chunks).toString('utf8');
  const path = (req.url ?? '/').split('?')[0];
  const found = req.method === 'POST' ? routeOf(path) : undefined;
  if (!found) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', param: null, code: null } }));
    return;
  }
  const { route } = found;
  let tally = byPath.get(path);
  if (!tally) byPath.set(path, (tally = { calls: 0, ok: 0, rateLimited: 0 }));
  const rule = rateLimits.find((r) => path.includes(r.match));
  const n = tally.calls++;
  if (rule && limitedCall(n, rule.rate)) {
    tally.rateLimited++;
    sendRateLimited(res, rule.retryAfterMs);
    return;
  }
  tally.ok++;
  counts[route]++;
  lastBody[route] = { path: req.url ?? '', body, headers: req.headers };
  // Every client in the benchmark serialises with JSON.stringify (no spaces), so a
  // substring test replaces a parse of a body carrying megabytes of base64.
  const stream = found.stream ?? body.includes('"stream":true');
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': json[route].length });
    res.end(json[route]);
    record(received, newSocket);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(sse[route][0]);
  record(received, newSocket);
  for (const event of sse[route].slice(1)) res.write(event);
  res.end();
}

function record(received: number, newSocket: boolean) {
  if (timeline.length >= 10_000) timeline.shift();
  timeline.push({ received, answered: now(), newSocket });
}

const server = createServer((req, res) => {
  handle(req, res).catch((error) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `mock failure: ${String(error)}` } }));
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(0, '127.0.0.1', () => {
  parentPort!.postMessage({ id: 0, value: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});

type Message =
  | { id: number; type: 'last'; route: Route }
  | { id: number; type: 'counts' | 'paths' | 'close' | 'timeline' }
  | { id: number; type: 'rateLimit'; rules: RateLimitRule[] };

parentPort!.on('message', (message: Message) => {
  const reply = (value: unknown) => parentPort!.postMessage({ id: message.id, value });
  if (message.type === 'last') reply(lastBody[message.route] ?? null);
  if (message.type === 'counts') reply({ ...counts });
  if (message.type === 'timeline') reply(timeline.splice(0));
  if (message.type === 'paths') reply(Object.fromEntries(byPath));
  if (message.type === 'rateLimit') {
    rateLimits = message.rules;
    byPath.clear();
    reply(null);
  }
  if (message.type === 'close') {
    server.closeAllConnections();
    server.close(() => reply(null));
  }
});
