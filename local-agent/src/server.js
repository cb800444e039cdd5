// `--listen HOST:PORT`: the agent's pools as an OpenAI-compatible endpoint on the GPU
// box. Requests pass through unchanged (engine-specific parameters included) and
// responses stream back as the engine writes them; a client that disconnects aborts
// the engine request.

import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { mergeConsecutiveRoles } from './merge-roles.js';
import { ModelFieldScanner } from './model-field.js';
import { PoolError } from './pool.js';
import { MAX_CHUNK } from './protocol.js';

/**
 * @param {{pools: Map<string, import('./pool.js').Pool>, status: () => unknown}} deps
 */
export function createAgentServer({ pools, status }) {
  return createServer((req, res) => {
    handle(req, res, pools, status).catch((error) => {
      const status = error instanceof PoolError ? error.status : 500;
      if (status === 499) return;
      if (!res.headersSent) sendError(res, status, error instanceof PoolError ? error.message : 'The agent failed while handling this request.', error.code ?? 'agent_error');
      else res.destroy();
    });
  });
}

async function handle(req, res, pools, status) {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { ok: true });
  if (req.method === 'GET' && path === '/agent/status') return sendJson(res, 200, status());
  if (req.method === 'GET' && path === '/v1/models') {
    const data = [...pools.values()].filter((p) => p.readyCount > 0).map((p) => ({ id: p.name, object: 'model', created: 0, owned_by: 'switchboard-agent' }));
    return sendJson(res, 200, { object: 'list', data });
  }
  if (req.method !== 'POST' || !path.startsWith('/v1/')) {
    return sendError(res, 404, `Unknown endpoint: ${req.method} ${path}`, 'unknown_url');
  }

  // Hold only the bytes up to the "model" field, then stream the rest through.
  const iterator = req[Symbol.asyncIterator]();
  const scanner = new ModelFieldScanner();
  const held = [];
  let ended = false;
  while (scanner.result === undefined) {
    const next = await iterator.next();
    if (next.done) {
      scanner.end();
      ended = true;
      break;
    }
    held.push(next.value);
    scanner.feed(next.value);
  }
  const model = scanner.result;
  if (typeof model !== 'string') return sendError(res, 400, 'The request body must be a JSON object with a string "model".', 'invalid_request', 'model');
  const pool = pools.get(model);
  if (!pool) return sendError(res, 404, `The model "${model}" is not served by this agent (it serves: ${[...pools.keys()].join(', ')}).`, 'model_not_found', 'model');

  const rest = async function* () {
    yield* held;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  };
  const headers = { ...req.headers };
  let body;
  if (pool.replicas[0]?.model.mergeConsecutiveRoles && path === '/v1/chat/completions') {
    // Rewriting messages needs the whole body; only models that opt in pay for it.
    const chunks = [];
    for await (const chunk of rest()) chunks.push(chunk);
    let parsed;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return sendError(res, 400, 'The request body is not valid JSON.', 'invalid_json');
    }
    if (Array.isArray(parsed.messages)) parsed.messages = mergeConsecutiveRoles(parsed.messages);
    body = Buffer.from(JSON.stringify(parsed));
    headers['content-length'] = String(body.length);
  } else if (Number(req.headers['content-length']) <= MAX_CHUNK) {
    // A body the size of a tunnel frame (the usual request) is read whole: it then goes to the engine in one write on a kept connection (http1-client.js).
    const chunks = [];
    for await (const chunk of rest()) chunks.push(chunk);
    body = Buffer.concat(chunks);
  } else {
    body = Readable.from(rest(), { objectMode: false });
  }

  const abort = new AbortController();
  // The response closing before it finished means the client went away: abort the engine request.
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const { res: upstream } = await pool.forward({ method: 'POST', path: req.url, headers, body, signal: abort.signal });
  const outHeaders = { ...upstream.headers };
  delete outHeaders.connection;
  delete outHeaders['keep-alive'];
  delete outHeaders['transfer-encoding'];
  res.writeHead(upstream.statusCode ?? 502, outHeaders);
  res.flushHeaders();
  upstream.pipe(res); // each chunk is written the moment it arrives
  upstream.on('aborted', () => res.destroy());
  upstream.on('error', () => res.destroy());
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res, status, message, code, param = null) {
  const type = status === 404 || status === 400 ? 'invalid_request_error' : 'server_error';
  sendJson(res, status, { error: { message, type, param, code } });
}
