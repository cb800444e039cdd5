// The agent's side of the tunnel: one WebSocket per model pool, dialled out to the
// gateway (so the GPU box needs no inbound port). Requests arrive as frames, go to the
// pool as streamed HTTP requests, and their responses go back chunk by chunk as they
// arrive. Cancel aborts the engine request; heartbeats detect a dead socket; the agent
// reconnects with jittered exponential backoff. It tells the gateway its capacity (ready
// replicas) as it changes, and, where the gateway offers them (protocol.js FEATURES),
// takes whole requests in one frame, answers small ones in one frame, and takes part in
// flow control: credits for request bodies, PAUSE / RESUME for slow clients.

import { PassThrough, Transform } from 'node:stream';
import { IncludeUsageScanner, INCLUDE_USAGE, USAGE_ADDED_HEADER, includeUsageAt } from './include-usage.js';
import WebSocket from 'ws';
import { mergeConsecutiveRoles } from './merge-roles.js';
import { BODY_WINDOW, FEATURES, FrameType, HEADER_BYTES, HEARTBEAT_PING, HEARTBEAT_PONG, MAX_CHUNK, PROTOCOL_VERSION, ProtocolError, chunksOf, decodeFrame, encodeFrame, encodeJsonFrame, encodeWholeFrame, offeredFeatures, reconnectDelay, writeFrameHeader } from './protocol.js';

const MAX_BUFFERED = 8 * 1024 * 1024; // pause reading engine output while this much waits to be sent
const BODY_HIGH_WATER = 512 * 1024; // request body buffered for a slow engine before credits (RESUME) stop

export class TunnelClient {
  /**
   * @param {import('./pool.js').Pool} pool
   * @param {object} options
   * @param {string} options.url        gateway base URL (ws:// or wss://)
   * @param {string} options.token      agent token
   * @param {string} options.engine
   * @param {string} options.agentName
   * @param {number} options.heartbeatMs
   * @param {number} options.reconnectInitialMs
   * @param {number} options.reconnectMaxMs
   * @param {(line: string) => void} options.log
   */
  constructor(pool, options) {
    this.pool = pool;
    this.options = options;
    this.ws = null;
    this.streams = new Map();
    this.attempt = 0;
    this.closed = false;
    this.connected = false;
    this.timer = null;
    this.heartbeat = null;
    this.lastSeen = 0;
    this.connections = 0;
    /** Features the gateway offered in its welcome (protocol.js FEATURES). */
    this.gatewayFeatures = [];
    /** The capacity last told to the gateway (hello or CAPACITY). */
    this.sentCapacity = 0;
    /** The gateway's last refusal of the token ({status, message}), until a connection is welcomed. */
    this.refusal = null;
    this.refusedSocket = null;
  }

  get url() {
    return `${this.options.url}/v1/agent/connect?model=${encodeURIComponent(this.pool.name)}`;
  }

  start() {
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.url, { headers: { authorization: `Bearer ${this.options.token}` }, maxPayload: 64 * 1024 * 1024,
      // Frames are binary bodies (base64 images already compressed, or small JSON): deflating them cost
      // ≈ 3 ms per 100 KB request on each side and queued every message through zlib's thread pool.
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      this.sentCapacity = this.capacity();
      ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: PROTOCOL_VERSION, model: this.pool.name, engine: this.options.engine, capacity: Math.max(1, this.sentCapacity), agent: this.options.agentName, features: FEATURES }));
    });
    ws.on('unexpected-response', (_req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const message = errorMessage(Buffer.concat(chunks).toString('utf8'));
        if (res.statusCode === 401 || res.statusCode === 403) {
          // Refused (unknown, revoked or expired token; or a model outside its scope): retrying
          // soon cannot help, so onClose waits the longest backoff (see refusalAdvice).
          this.refusal = { status: res.statusCode, message };
          this.refusedSocket = ws;
          this.options.log(`tunnel ${this.pool.name}: the gateway rejected the agent token (${res.statusCode}): ${message}`);
        } else {
          this.options.log(`tunnel ${this.pool.name}: the gateway answered ${res.statusCode}: ${message}`);
        }
        ws.terminate();
      });
    });
    ws.on('message', (data, isBinary) => this.onMessage(ws, data, isBinary));
    ws.on('error', (error) => {
      // After a refusal, ws reports the handshake it was told to abort: already said.
      if (!this.closed && this.refusedSocket !== ws) this.options.log(`tunnel ${this.pool.name}: ${error.message}`);
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  onMessage(ws, data, isBinary) {
    if (ws !== this.ws) return;
    this.lastSeen = Date.now();
    let frame;
    try {
      if (!isBinary) {
        if (this.gatewayFeatures.includes('heartbeat') && String(data) === HEARTBEAT_PONG) return;
        throw new ProtocolError('text message: frames are binary');
      }
      frame = decodeFrame(data);
    } catch (error) {
      // A frame that breaks the protocol ends this connection (cleanly), not the agent.
      this.options.log(`tunnel ${this.pool.name}: protocol error from the gateway: ${error.message}`);
      this.send(encodeJsonFrame(FrameType.ERROR, 0, { status: 400, message: error.message, code: 'protocol_error' }));
      ws.close(1002, 'protocol error');
      return;
    }
    switch (frame.type) {
      case FrameType.WELCOME:
        this.refusal = null;
        this.connected = true;
        this.connections++;
        this.attempt = 0;
        this.gatewayFeatures = offeredFeatures(frame.json.features);
        this.updateCapacity(); // replicas may have changed while the hello was on its way
        this.options.log(`tunnel ${this.pool.name}: connected to ${this.options.url}`);
        this.startHeartbeat(ws);
        break;
      case FrameType.PING:
        this.send(encodeFrame(FrameType.PONG, 0, frame.payload));
        break;
      case FrameType.PONG:
        break;
      case FrameType.REQUEST_HEAD:
        this.onRequest(frame.streamId, frame.json);
        break;
      case FrameType.REQUEST:
        this.onRequest(frame.streamId, frame.json, Buffer.from(frame.body.buffer, frame.body.byteOffset, frame.body.byteLength));
        break;
      case FrameType.REQUEST_BODY: {
        const stream = this.streams.get(frame.streamId);
        if (!stream?.body) break;
        const flowing = stream.body.write(Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength)); // a view, not a copy
        if (!this.gatewayFeatures.includes('flow')) break;
        // Each window of body that reached the engine earns the gateway a credit for the next (RESUME):
        // a slow engine holds the gateway back instead of the body piling up here.
        stream.received = (stream.received ?? 0) + frame.payload.byteLength;
        while (stream.received >= BODY_WINDOW) {
          stream.received -= BODY_WINDOW;
          stream.owed = (stream.owed ?? 0) + 1;
        }
        const grant = () => {
          if (this.streams.get(frame.streamId) !== stream) return;
          for (; stream.owed > 0; stream.owed--) this.send(encodeFrame(FrameType.RESUME, frame.streamId));
        };
        if (flowing) grant();
        else if (stream.owed > 0 && !stream.waitingDrain) {
          stream.waitingDrain = true;
          stream.body.once('drain', () => {
            stream.waitingDrain = false;
            grant();
          });
        }
        break;
      }
      case FrameType.REQUEST_END:
        this.streams.get(frame.streamId)?.body?.end();
        break;
      case FrameType.CANCEL: {
        const stream = this.streams.get(frame.streamId);
        if (stream) {
          this.streams.delete(frame.streamId);
          stream.abort.abort();
          stream.body?.destroy();
        }
        break;
      }
      case FrameType.PAUSE:
      case FrameType.RESUME: {
        const stream = this.streams.get(frame.streamId);
        if (!stream) break;
        stream.paused = frame.type === FrameType.PAUSE;
        if (stream.paused) stream.res?.pause();
        else stream.res?.resume();
        break;
      }
      case FrameType.ERROR:
        if (frame.streamId === 0) this.options.log(`tunnel ${this.pool.name}: the gateway reported: ${frame.json.message}`);
        else this.streams.get(frame.streamId)?.abort.abort();
        break;
      default:
        this.options.log(`tunnel ${this.pool.name}: ignoring ${frame.name} from the gateway`);
    }
  }

  /** @param {Buffer|null} [whole] the body, when the request came whole (REQUEST); else REQUEST_BODY frames follow */
  async onRequest(streamId, head, whole = null) {
    if (this.streams.has(streamId)) return;
    // A whole request needs no body stream (REQUEST_BODY frames never come for it).
    const body = whole ? null : new PassThrough({ highWaterMark: BODY_HIGH_WATER });
    const abort = new AbortController();
    this.streams.set(streamId, { body, abort });
    const headers = { ...(typeof head.headers === 'object' && head.headers ? head.headers : {}) };
    const path = head.path ?? '/v1/chat/completions';
    try {
      let payload = whole ?? body;
      if (this.pool.replicas[0]?.model.mergeConsecutiveRoles && path === '/v1/chat/completions') payload = await mergedBody(payload);
      // The gateway counts tokens (head.usage): a stream is asked for its usage chunk (include-usage.js).
      let usageAdded = () => false;
      if (head.usage === true && path === '/v1/chat/completions') {
        if (Buffer.isBuffer(payload)) {
          const at = includeUsageAt(payload);
          if (at >= 0) payload = Buffer.concat([payload.subarray(0, at), INCLUDE_USAGE, payload.subarray(at)]);
          usageAdded = () => at >= 0;
        } else {
          const adding = includeUsageStream();
          payload = payload.pipe(adding.stream);
          usageAdded = adding.added;
        }
      }
      // A body known whole goes with its length (not chunked), and a refused attempt can resend it.
      if (Buffer.isBuffer(payload)) headers['content-length'] = String(payload.length);
      const { res } = await this.pool.forward({ method: head.method ?? 'POST', path, headers, body: payload, signal: abort.signal });
      const stream = this.streams.get(streamId);
      if (!stream) {
        res.destroy();
        return;
      }
      stream.res = res;
      const outHeaders = {};
      for (const [k, v] of Object.entries(res.headers)) if (!['connection', 'keep-alive', 'transfer-encoding'].includes(k)) outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
      if (usageAdded()) outHeaders[USAGE_ADDED_HEADER] = '1';
      const responseHead = { status: res.statusCode, headers: outHeaders };
      const length = Number(res.headers['content-length']);
      if (this.gatewayFeatures.includes('whole') && length >= 0 && length < MAX_CHUNK - 4096 && !String(res.headers['content-type']).includes('event-stream')) {
        // A complete answer (not a stream) that fits one frame goes as one message once it is all here.
        const parts = [];
        res.on('data', (chunk) => parts.push(chunk));
        res.on('end', () => {
          if (!this.streams.delete(streamId)) return;
          const frame = encodeWholeFrame(FrameType.RESPONSE, streamId, responseHead, Buffer.concat(parts));
          if (frame) this.send(frame);
          else this.sendSplit(streamId, responseHead, Buffer.concat(parts));
        });
        res.on('error', () => this.failStream(streamId, 502, 'The engine connection broke mid-response.', 'engine_error'));
        res.on('aborted', () => this.failStream(streamId, 502, 'The engine connection broke mid-response.', 'engine_error'));
        return;
      }
      this.send(encodeJsonFrame(FrameType.RESPONSE_HEAD, streamId, responseHead));
      // Node emits one 'data' per HTTP chunk, so 300 SSE events that came in one socket read are
      // 300 events here, all in the same tick. They are gathered and sent as one frame once that
      // read is handled (a microtask: nothing waits for more data), so each costs no WebSocket
      // message, no frame decode and no enqueue of its own on the gateway.
      let pending = [];
      let pendingBytes = 0;
      const flush = () => {
        const parts = pending;
        const size = pendingBytes;
        pending = [];
        pendingBytes = 0;
        if (!this.streams.has(streamId)) return;
        this.sendBody(streamId, parts, size);
        if (this.ws && this.ws.bufferedAmount > MAX_BUFFERED) {
          res.pause();
          const resume = () => {
            if (this.ws && this.ws.bufferedAmount > MAX_BUFFERED / 2) setTimeout(resume, 5);
            else if (!stream.paused) res.resume(); // a PAUSE from the gateway holds until its RESUME
          };
          setTimeout(resume, 5);
        }
      };
      res.on('data', (chunk) => {
        if (pending.length === 0) queueMicrotask(flush);
        pending.push(chunk);
        pendingBytes += chunk.length;
      });
      res.on('end', () => {
        if (pending.length) flush();
        if (this.streams.delete(streamId)) this.send(encodeFrame(FrameType.RESPONSE_END, streamId));
      });
      res.on('error', () => this.failStream(streamId, 502, 'The engine connection broke mid-response.', 'engine_error'));
      res.on('aborted', () => this.failStream(streamId, 502, 'The engine connection broke mid-response.', 'engine_error'));
    } catch (error) {
      if (error.status === 499 || abort.signal.aborted) return;
      this.failStream(streamId, error.status ?? 502, error.message, error.code ?? 'engine_error');
    }
  }

  /** Response bytes as RESPONSE_BODY frames of at most MAX_CHUNK, each built with one copy of the bytes. */
  sendBody(streamId, parts, size) {
    if (parts.length === 1 && size > MAX_CHUNK) {
      for (const piece of chunksOf(parts[0])) this.send(encodeFrame(FrameType.RESPONSE_BODY, streamId, piece));
      return;
    }
    let frame = null;
    let at = 0;
    for (const part of parts) {
      for (let i = 0; i < part.length; ) {
        if (!frame) {
          frame = Buffer.allocUnsafe(HEADER_BYTES + Math.min(MAX_CHUNK, size));
          at = HEADER_BYTES;
        }
        const n = Math.min(part.length - i, frame.length - at);
        part.copy(frame, at, i, i + n);
        at += n;
        i += n;
        size -= n;
        if (at === frame.length) {
          this.send(writeFrameHeader(frame, FrameType.RESPONSE_BODY, streamId));
          frame = null;
        }
      }
    }
  }

  /** A response as head, body and end frames. */
  sendSplit(streamId, head, body) {
    this.send(encodeJsonFrame(FrameType.RESPONSE_HEAD, streamId, head));
    for (const piece of chunksOf(body)) this.send(encodeFrame(FrameType.RESPONSE_BODY, streamId, piece));
    this.send(encodeFrame(FrameType.RESPONSE_END, streamId));
  }

  /** What the pool can serve now: its ready replicas (the gateway balances agents by this). */
  capacity() {
    return this.pool.readyCount;
  }

  /** Tells the gateway when the pool's ready replicas changed, so it balances by what can serve now. */
  updateCapacity() {
    if (!this.connected) return;
    const capacity = this.capacity();
    if (capacity === this.sentCapacity) return;
    this.sentCapacity = capacity;
    this.send(encodeJsonFrame(FrameType.CAPACITY, 0, { capacity }));
  }

  failStream(streamId, status, message, code) {
    if (!this.streams.delete(streamId)) return;
    this.send(encodeJsonFrame(FrameType.ERROR, streamId, { status, message, code }));
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  startHeartbeat(ws) {
    clearInterval(this.heartbeat);
    this.lastSeen = Date.now();
    this.heartbeat = setInterval(() => {
      if (ws !== this.ws) return;
      if (Date.now() - this.lastSeen > 2 * this.options.heartbeatMs) {
        this.options.log(`tunnel ${this.pool.name}: no heartbeat from the gateway for ${2 * this.options.heartbeatMs} ms; reconnecting`);
        ws.terminate();
        return;
      }
      // Answered by the gateway's runtime where it offers "heartbeat" (the model's object sleeps on).
      this.send(this.gatewayFeatures.includes('heartbeat') ? HEARTBEAT_PING : encodeFrame(FrameType.PING, 0));
    }, this.options.heartbeatMs);
  }

  onClose(ws, code, reason) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    const wasConnected = this.connected;
    this.connected = false;
    this.ws = null;
    // Requests in flight cannot finish without the socket: stop their engine work.
    for (const stream of this.streams.values()) {
      stream.abort.abort();
      stream.body?.destroy();
    }
    this.streams.clear();
    if (this.closed) return;
    this.attempt++;
    if (this.refusedSocket === ws) {
      this.refusedSocket = null;
      const delay = reconnectDelay(1, this.options.reconnectMaxMs, this.options.reconnectMaxMs);
      this.options.log(`tunnel ${this.pool.name}: ${refusalAdvice(this.refusal.status)}; trying again in ${delay} ms`);
      this.timer = setTimeout(() => this.connect(), delay);
      return;
    }
    const delay = reconnectDelay(this.attempt, this.options.reconnectInitialMs, this.options.reconnectMaxMs);
    if (wasConnected || this.attempt === 1) this.options.log(`tunnel ${this.pool.name}: connection closed (${code}${reason ? ` ${reason}` : ''}); reconnecting in ${delay} ms`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    this.ws?.close(1001, 'agent stopping');
  }
}

/** The message of the gateway's OpenAI-style error body, else the body's start (never more than 300 characters). */
export function errorMessage(body) {
  try {
    const message = JSON.parse(body)?.error?.message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not JSON: a proxy's page, say
  }
  return body.slice(0, 300) || '(no body)';
}

/**
 * What to do about a refused token. A refusal is not retried at the usual pace: the agent
 * waits the longest backoff (gateway.reconnect_max, 30 s by default) between attempts, so a
 * revoked token costs the gateway one request a while, and an agent whose token is fixed on
 * the gateway's side (AGENT_TOKENS updated) comes back by itself.
 */
export function refusalAdvice(status) {
  return status === 403
    ? 'the token does not allow this model: use a token whose models include it (npm run admin -- agent-tokens create --models …), then restart the agent'
    : 'the token is unknown, revoked or expired: put a valid agent token in the environment variable named by gateway.token_env and restart the agent';
}

/**
 * A streamed body with the usage request added before its closing brace when it needs one
 * (include-usage.js). Bytes go on as they come; only the closing brace and what follows it
 * wait for the body's end. `added()` is known once the body ended (before the engine answers).
 */
export function includeUsageStream() {
  const scanner = new IncludeUsageScanner();
  let held = null;
  let added = false;
  const stream = new Transform({
    transform(chunk, _encoding, callback) {
      if (held) {
        // After the closing brace: whitespace, or bytes that make the body invalid (then nothing is added).
        scanner.feed(chunk);
        held = Buffer.concat([held, chunk]);
        if (scanner.invalid) {
          const out = held;
          held = null;
          return callback(null, out);
        }
        return callback();
      }
      const close = scanner.feed(chunk);
      if (close < 0 || scanner.invalid) return callback(null, chunk);
      held = chunk.subarray(close);
      callback(null, close > 0 ? chunk.subarray(0, close) : undefined);
    },
    flush(callback) {
      if (held) {
        if (scanner.wanted) {
          added = true;
          this.push(Buffer.from(INCLUDE_USAGE));
        }
        this.push(held);
      }
      callback();
    },
  });
  return { stream, added: () => added };
}

/** For models whose chat template demands alternating roles: the whole body, messages merged. */
async function mergedBody(body) {
  const chunks = [];
  if (Buffer.isBuffer(body)) chunks.push(body);
  else for await (const chunk of body) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const parsed = JSON.parse(text);
    if (Array.isArray(parsed.messages)) parsed.messages = mergeConsecutiveRoles(parsed.messages);
    return Buffer.from(JSON.stringify(parsed));
  } catch {
    return Buffer.from(text); // not JSON: the engine answers that
  }
}
