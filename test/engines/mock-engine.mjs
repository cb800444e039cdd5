#!/usr/bin/env node
// A stand-in for `vllm serve` and `lmdeploy serve api_server`, launched by the agent
// through the same code path as the real engines (test/engines/bin/{vllm,lmdeploy}).
// It parses the real command lines (rejecting what the real CLIs reject, e.g. vLLM
// ≥ 0.10's `--limit-mm-per-prompt image=10`), keeps its port closed while "loading",
// serves /health, /v1/models, /metrics and OpenAI chat completions (streaming, usage,
// image limit), forks a child like vLLM's GPU workers do, and can be told to crash.
//
// Test controls (environment): MOCK_READY_DELAY_MS, MOCK_CRASH_AFTER_MS (exit 1 that
// long after ready), MOCK_IGNORE_SIGTERM=1, MOCK_NO_CHILD=1, MOCK_TOKEN_DELAY_MS.
// Per request (extra body params, passed through by the gateway): mock_chunks, mock_delay_ms.
// Test endpoints: GET /mock/stats, POST /mock/crash.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';

const flavor = process.argv[2];
const argv = process.argv.slice(3);

function usageError(prog, message) {
  process.stderr.write(`usage: ${prog} [model_tag] [options]\n${prog}: error: ${message}\n`);
  process.exit(2);
}

/** Walks `args` from `start` as argparse does: `value()` takes the flag's argument, `int()` checks it. */
function argWalker(prog, args, start, onArg) {
  for (let i = start; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) usageError(prog, `argument ${a}: expected one argument`);
      return args[++i];
    };
    const int = (v) => {
      if (!/^\d+$/.test(v)) usageError(prog, `argument ${a}: invalid int value: '${v}'`);
      return Number(v);
    };
    onArg(a, value, int);
  }
}

function parseVllm(args) {
  const prog = 'vllm serve';
  if (args[0] !== 'serve') usageError('vllm', `argument subparser: invalid choice: '${args[0]}'`);
  const opts = { model: null, host: '0.0.0.0', port: 8000, tp: 1, servedName: null, maxModelLen: null, trustRemoteCode: false, limitMm: { image: 1 } };
  const unknown = [];
  argWalker(prog, args, 1, (a, value, int) => {
    switch (a) {
      case '--host': opts.host = value(); break;
      case '--port': opts.port = int(value()); break;
      case '--tensor-parallel-size': case '-tp': opts.tp = int(value()); break;
      case '--served-model-name': opts.servedName = value(); break;
      case '--max-model-len': opts.maxModelLen = int(value()); break;
      case '--trust-remote-code': opts.trustRemoteCode = true; break;
      case '--gpu-memory-utilization': case '--dtype': case '--max-num-seqs': value(); break;
      case '--limit-mm-per-prompt': {
        // vLLM ≥ 0.10 parses this flag with json.loads.
        const v = value();
        try {
          const parsed = JSON.parse(v);
          if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
          opts.limitMm = parsed;
        } catch {
          usageError(prog, `argument --limit-mm-per-prompt: Value ${v} cannot be converted to <function loads at 0x7f3a1c2b5e40>.`);
        }
        break;
      }
      default:
        if (!a.startsWith('-') && !opts.model) opts.model = a;
        else unknown.push(a);
    }
  });
  if (unknown.length) usageError(prog, `unrecognized arguments: ${unknown.join(' ')}`);
  if (!opts.model) usageError(prog, 'the following arguments are required: model_tag');
  return opts;
}

function parseLmdeploy(args) {
  const prog = 'lmdeploy serve api_server';
  if (args[0] !== 'serve' || args[1] !== 'api_server') usageError('lmdeploy', `invalid choice: '${args.slice(0, 2).join(' ')}'`);
  const opts = { model: null, host: '0.0.0.0', port: 23333, tp: 1, servedName: null, maxModelLen: null, sessionLen: null, limitMm: { image: 100 } };
  const unknown = [];
  argWalker(prog, args, 2, (a, value, int) => {
    switch (a) {
      case '--server-name': opts.host = value(); break;
      case '--server-port': opts.port = int(value()); break;
      case '--tp': opts.tp = int(value()); break;
      case '--model-name': opts.servedName = value(); break;
      case '--session-len': opts.sessionLen = int(value()); break;
      case '--backend': case '--cache-max-entry-count': case '--model-format': value(); break;
      default:
        if (!a.startsWith('-') && !opts.model) opts.model = a;
        else unknown.push(a);
    }
  });
  if (unknown.length) usageError(prog, `unrecognized arguments: ${unknown.join(' ')}`);
  if (!opts.model) usageError(prog, 'the following arguments are required: model_path');
  return opts;
}

const opts = flavor === 'lmdeploy' ? parseLmdeploy(argv) : parseVllm(argv);
const served = opts.servedName ?? opts.model;
const env = process.env;
const log = (line) => process.stdout.write(`${line}\n`);

log(`INFO mock ${flavor} ${served} (model ${opts.model}) tp=${opts.tp} CUDA_VISIBLE_DEVICES=${env.CUDA_VISIBLE_DEVICES ?? ''} pid=${process.pid}`);

// vLLM forks GPU workers; they outlive the parent unless the whole group is stopped.
let child = null;
if (env.MOCK_NO_CHILD !== '1') {
  child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  log(`INFO worker process pid=${child.pid}`);
}

if (env.MOCK_IGNORE_SIGTERM === '1') process.on('SIGTERM', () => log('INFO SIGTERM ignored'));
// Default SIGTERM: exit at once, leaving the worker behind, as a parent-only kill does to vLLM.

const stats = { requests: 0, completed: 0, cancelled: 0, inFlight: 0, lastBody: null, lastRoles: null };
const created = Math.floor(Date.now() / 1000);
let nextId = 0;

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function openAIError(res, status, message, type, param = null) {
  json(res, status, { error: { message, type, param, code: status } });
}

function countImages(messages) {
  let n = 0;
  for (const m of messages ?? []) if (Array.isArray(m?.content)) for (const p of m.content) if (p?.type === 'image_url') n++;
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function chat(req, res, raw) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    return openAIError(res, 400, 'Invalid JSON body', 'BadRequestError');
  }
  stats.lastBody = { ...body, messages: undefined };
  stats.lastRoles = Array.isArray(body.messages) ? body.messages.map((m) => m?.role) : null;
  if (body.model !== served) return openAIError(res, 404, `The model \`${body.model}\` does not exist.`, 'NotFoundError', 'model');
  if (!Array.isArray(body.messages) || body.messages.length === 0) return openAIError(res, 400, 'messages: field required', 'BadRequestError', 'messages');
  // vLLM's ChatCompletionRequest.validate_stream_options: stream_options only with stream=True.
  if (body.stream_options && !body.stream) return openAIError(res, 400, 'Stream options can only be defined when `stream=True`.', 'BadRequestError');
  const images = countImages(body.messages);
  const limit = opts.limitMm.image ?? 1;
  if (images > limit) return openAIError(res, 400, `At most ${limit} image(s) may be provided in one prompt.`, 'BadRequestError');

  const id = `chatcmpl-mock-${opts.port}-${nextId++}`;
  const words = `Hello from ${flavor} port ${opts.port}`.split(' ');
  const chunks = Number(body.mock_chunks ?? words.length);
  const delay = Number(body.mock_delay_ms ?? env.MOCK_TOKEN_DELAY_MS ?? 0);
  const pieces = Array.from({ length: chunks }, (_, i) => (i === 0 ? '' : ' ') + words[i % words.length]);
  const promptTokens = JSON.stringify(body.messages).length >> 2;
  const usage = { prompt_tokens: promptTokens, completion_tokens: chunks, total_tokens: promptTokens + chunks };

  let closed = false;
  res.on('close', () => {
    if (!res.writableFinished) {
      closed = true;
      stats.cancelled++;
      log(`INFO request ${id} cancelled by the client`);
    }
  });

  if (!body.stream) {
    if (delay) await sleep(delay * chunks);
    if (closed) return;
    return json(res, 200, {
      id, object: 'chat.completion', created, model: served,
      choices: [{ index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: 'stop', logprobs: null }],
      usage,
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  const base = { id, object: 'chat.completion.chunk', created, model: served };
  send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
  for (const piece of pieces) {
    if (delay) await sleep(delay);
    if (closed) return;
    send({ ...base, choices: [{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }] });
  }
  send({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] });
  if (body.stream_options?.include_usage) send({ ...base, choices: [], usage });
  res.end('data: [DONE]\n\n');
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'GET' && path === '/health') {
      res.writeHead(200);
      return res.end();
    }
    if (req.method === 'GET' && path === '/v1/models') {
      return json(res, 200, { object: 'list', data: [{ id: served, object: 'model', created, owned_by: flavor, root: opts.model, max_model_len: opts.maxModelLen ?? opts.sessionLen ?? 4096 }] });
    }
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(`# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="${served}"} ${stats.inFlight}\n`);
    }
    if (req.method === 'GET' && path === '/mock/stats') {
      return json(res, 200, { pid: process.pid, childPid: child?.pid ?? null, port: opts.port, tp: opts.tp, gpus: env.CUDA_VISIBLE_DEVICES ?? null, served, model: opts.model, ...stats });
    }
    if (req.method === 'POST' && path === '/mock/crash') {
      log('ERROR mock crash requested: RuntimeError: CUDA error: an illegal memory access was encountered');
      res.writeHead(200);
      res.end();
      setImmediate(() => process.exit(1));
      return;
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      stats.requests++;
      stats.inFlight++;
      try {
        await chat(req, res, raw);
        stats.completed++;
      } finally {
        stats.inFlight--;
      }
      return;
    }
    openAIError(res, 404, `Not Found: ${req.method} ${path}`, 'NotFoundError');
  });
});

const readyDelay = Number(env.MOCK_READY_DELAY_MS ?? 0);
log(`INFO loading weights (${readyDelay} ms)`);
setTimeout(() => {
  server.listen(opts.port, opts.host, () => {
    log(`INFO Uvicorn running on http://${opts.host}:${opts.port} (Press CTRL+C to quit)`);
    const crashAfter = env.MOCK_CRASH_AFTER_MS;
    if (crashAfter !== undefined) {
      setTimeout(() => {
        log('ERROR RuntimeError: CUDA error: out of memory (mock crash)');
        process.exit(1);
      }, Number(crashAfter));
    }
  });
  server.on('error', (error) => {
    log(`ERROR [Errno 98] error while attempting to bind on address ('${opts.host}', ${opts.port}): ${error.code}`);
    process.exit(1);
  });
}, readyDelay);
