// The agent's side of the tunnel: one WebSocket per model pool, dialled out to the
// gateway (so the GPU box needs no inbound port). Requests arrive as frames, go to the
// pool as streamed HTTP requests, and their responses go back chunk by chunk as they
// arrive. Cancel aborts the engine request; heartbeats detect a dead socket; the agent
// reconnects with jittered exponential backoff.

import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { mergeConsecutiveRoles } from './merge-roles.js';
import { FrameType, PROTOCOL_VERSION, ProtocolError, chunksOf, decodeFrame, encodeFrame, encodeJsonFrame, reconnectDelay } from './protocol.js';

const MAX_BUFFERED = 8 * 1024 * 1024; // pause reading engine output while this much waits to be sent

export class TunnelClient {
  /**
   * @param {import('./pool.js').Pool} pool
   * @param {object} options
   * @param {string} options.url        gateway base URL (ws:// or wss://)
   * @param {string} options.token      agent token
   * @param {string} options.engine
   * @param {number} options.capacity
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
  }

  get url() {
    return `${this.options.url}/v1/agent/connect?model=${encodeURIComponent(this.pool.name)}`;
  }

  start() {
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.url, { headers: { authorization: `Bearer ${this.options.token}` }, maxPayload: 64 * 1024 * 1024 });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: PROTOCOL_VERSION, model: this.pool.name, engine: this.options.engine, capacity: this.options.capacity, agent: this.options.agentName }));
    });
    ws.on('unexpected-response', (_req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 300);
        const why = res.statusCode === 401 || res.statusCode === 403 ? 'the gateway rejected the agent token' : `the gateway answered ${res.statusCode}`;
        this.options.log(`tunnel ${this.pool.name}: ${why}: ${body}`);
        ws.terminate();
      });
    });
    ws.on('message', (data, isBinary) => this.onMessage(ws, data, isBinary));
    ws.on('error', (error) => {
      if (!this.closed) this.options.log(`tunnel ${this.pool.name}: ${error.message}`);
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  onMessage(ws, data, isBinary) {
    if (ws !== this.ws) return;
    this.lastSeen = Date.now();
    let frame;
    try {
      if (!isBinary) throw new ProtocolError('text message: frames are binary');
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
        this.connected = true;
        this.connections++;
        this.attempt = 0;
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
      case FrameType.REQUEST_BODY:
        this.streams.get(frame.streamId)?.body.write(Buffer.from(frame.payload));
        break;
      case FrameType.REQUEST_END:
        this.streams.get(frame.streamId)?.body.end();
        break;
      case FrameType.CANCEL: {
        const stream = this.streams.get(frame.streamId);
        if (stream) {
          this.streams.delete(frame.streamId);
          stream.abort.abort();
          stream.body.destroy();
        }
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

  async onRequest(streamId, head) {
    if (this.streams.has(streamId)) return;
    const body = new PassThrough();
    const abort = new AbortController();
    this.streams.set(streamId, { body, abort });
    const headers = { ...(typeof head.headers === 'object' && head.headers ? head.headers : {}) };
    const path = head.path ?? '/v1/chat/completions';
    try {
      let payload = body;
      if (this.pool.replicas[0]?.model.mergeConsecutiveRoles && path === '/v1/chat/completions') {
        payload = await mergedBody(body);
        headers['content-length'] = String(payload.length);
      }
      const { res } = await this.pool.forward({ method: head.method ?? 'POST', path, headers, body: payload, signal: abort.signal });
      if (!this.streams.has(streamId)) {
        res.destroy();
        return;
      }
      const outHeaders = {};
      for (const [k, v] of Object.entries(res.headers)) if (!['connection', 'keep-alive', 'transfer-encoding'].includes(k)) outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
      this.send(encodeJsonFrame(FrameType.RESPONSE_HEAD, streamId, { status: res.statusCode, headers: outHeaders }));
      res.on('data', (chunk) => {
        for (const piece of chunksOf(chunk)) this.send(encodeFrame(FrameType.RESPONSE_BODY, streamId, piece));
        if (this.ws && this.ws.bufferedAmount > MAX_BUFFERED) {
          res.pause();
          const resume = () => (this.ws && this.ws.bufferedAmount > MAX_BUFFERED / 2 ? setTimeout(resume, 5) : res.resume());
          setTimeout(resume, 5);
        }
      });
      res.on('end', () => {
        if (this.streams.delete(streamId)) this.send(encodeFrame(FrameType.RESPONSE_END, streamId));
      });
      res.on('error', () => this.failStream(streamId, 502, 'The engine connection broke mid-response.', 'engine_error'));
      res.on('aborted', () => this.failStream(streamId, 502, 'The engine connection broke mid-response.', 'engine_error'));
    } catch (error) {
      if (error.status === 499 || abort.signal.aborted) return;
      this.failStream(streamId, error.status ?? 502, error.message, error.code ?? 'engine_error');
    }
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
      this.send(encodeFrame(FrameType.PING, 0));
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
      stream.body.destroy();
    }
    this.streams.clear();
    if (this.closed) return;
    this.attempt++;
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

/** For models whose chat template demands alternating roles: the whole body, messages merged. */
async function mergedBody(body) {
  const chunks = [];
  for await (const chunk of body) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const parsed = JSON.parse(text);
    if (Array.isArray(parsed.messages)) parsed.messages = mergeConsecutiveRoles(parsed.messages);
    return Buffer.from(JSON.stringify(parsed));
  } catch {
    return Buffer.from(text); // not JSON: the engine answers that
  }
}
