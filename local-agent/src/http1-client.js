// A small keep-alive HTTP/1.1 client for the agent's hot path: a request whose body is
// held whole (the tunnel's REQUEST frames, the common case), to an engine on this box.
// Node's http client costs ≈ 0.3 ms of CPU per request on Node 20 (ClientRequest, the
// agent's bookkeeping, IncomingMessage), a sixth of what the on-prem path adds to a
// request; here the request goes out in one write and the answer is parsed by
// ResponseParser: status line and headers, then a body framed by content-length, chunked
// encoding or the connection's end. Streamed request bodies still go through node:http.

import { connect } from 'node:net';
import { Readable } from 'node:stream';

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;
/** Idle connections are closed before an engine's own keep-alive timeout (uvicorn's is 5 s) can race a new request on them. */
export const IDLE_CONNECTION_MS = 4000;
/** Connections kept per engine beyond that are closed (node:http's default for an agent's free sockets). */
const MAX_IDLE = 256;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers about one connection, not the request: never passed on to an engine. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'proxy-authorization', 'proxy-authenticate']);
/** Written by requestHead itself: the body's length; and no 100-continue wait (the body goes with the head). */
const WRITTEN_HERE = new Set(['content-length', 'expect']);

export class ResponseParseError extends Error {
  constructor(message) {
    super(`malformed HTTP response from the engine: ${message}`);
    this.code = 'HPE_INVALID_RESPONSE';
  }
}

/**
 * The request head: request line, host, the caller's headers (hop-by-hop ones dropped) and the body's length.
 * @param {string} method @param {string} path @param {string} host @param {Record<string, string|string[]|undefined>} headers @param {number} length
 */
export function requestHead(method, path, host, headers, length) {
  if (!TOKEN.test(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`);
  if (!/^\/[\x21-\x7e]*$/.test(path)) throw new TypeError(`invalid path ${JSON.stringify(path)}`);
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || WRITTEN_HERE.has(lower)) continue;
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    for (const v of Array.isArray(value) ? value : [value]) {
      // As node:http checks: a CR or LF would end the header early (another header, or another
      // request, smuggled in), and a character above U+00FF has no byte to go as.
      if (/[^\t\x20-\x7e\x80-\xff]/.test(String(v))) throw new TypeError(`invalid characters in header ${name}`);
      head += `${name}: ${v}\r\n`;
    }
  }
  return `${head}content-length: ${length}\r\n\r\n`;
}

/**
 * Parses one HTTP/1.x response as its bytes arrive (pure: no IO). Calls `onHead` with
 * {status, statusText, headers, keepAlive}, `onBody` with each piece of the body (views of
 * the bytes fed: copy before keeping them past the call), `onEnd` once the body is complete.
 * Interim 1xx answers are skipped. Throws ResponseParseError on bytes that are not HTTP.
 */
export class ResponseParser {
  /** @param {string} method the request's (a HEAD answer has no body) @param {{onHead: Function, onBody: Function, onEnd: Function}} handlers */
  constructor(method, handlers) {
    this.method = method.toUpperCase();
    this.handlers = handlers;
    /** 'head' | 'length' | 'close' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'done' */
    this.state = 'head';
    this.pending = null;
    this.line = null;
    this.remaining = 0;
    this.keepAlive = false;
    /** Bytes came after the response: the connection cannot carry another. */
    this.surplus = false;
    this.received = false;
  }

  get done() {
    return this.state === 'done';
  }

  /** @param {Buffer} chunk */
  feed(chunk) {
    this.received = true;
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case 'head': {
          const bytes = this.pending ? Buffer.concat([this.pending, chunk.subarray(at)]) : chunk.subarray(at);
          const end = bytes.indexOf('\r\n\r\n');
          if (end < 0) {
            if (bytes.length > MAX_HEAD_BYTES) throw new ResponseParseError(`head longer than ${MAX_HEAD_BYTES} bytes`);
            this.pending = Buffer.from(bytes);
            return;
          }
          this.pending = null;
          this.onHead(bytes.toString('latin1', 0, end));
          chunk = bytes;
          at = end + 4;
          break;
        }
        case 'length':
        case 'chunk-data': {
          const n = Math.min(this.remaining, chunk.length - at);
          this.handlers.onBody(chunk.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining > 0) break;
          if (this.state === 'length') this.finish();
          else this.state = 'chunk-end';
          break;
        }
        case 'close':
          this.handlers.onBody(chunk.subarray(at));
          at = chunk.length;
          break;
        case 'chunk-size':
        case 'chunk-end':
        case 'trailers': {
          const next = this.readLine(chunk, at);
          if (next < 0) return;
          at = next;
          this.onLine(this.takeLine());
          break;
        }
        case 'done':
          if (at < chunk.length) this.surplus = true;
          return;
      }
    }
  }

  /** The connection ended. Completes a body that runs to the connection's end; throws when the response was cut short. */
  end() {
    if (this.state === 'done') return;
    if (this.state === 'close') return this.finish();
    throw new ResponseParseError(this.state === 'head' ? 'the connection closed before a complete response head' : 'the connection closed mid-body');
  }

  /** @param {string} text the head without its blank line */
  onHead(text) {
    const lines = text.split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!status) throw new ResponseParseError(`status line ${JSON.stringify(lines[0].slice(0, 100))}`);
    const code = Number(status[2]);
    /** @type {Record<string, string|string[]>} */
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      const name = lines[i].slice(0, colon).toLowerCase();
      if (colon <= 0 || !TOKEN.test(name)) throw new ResponseParseError(`header line ${JSON.stringify(lines[i].slice(0, 100))}`);
      const value = lines[i].slice(colon + 1).trim();
      const before = headers[name];
      if (name === 'set-cookie') headers[name] = [...(before ?? []), value];
      else headers[name] = before === undefined ? value : `${before}, ${value}`;
    }
    // 1xx: an interim answer (100 Continue, 103 Early Hints); the response proper follows.
    if (code >= 100 && code < 200) {
      if (code === 101) throw new ResponseParseError('an upgrade (101) was not asked for');
      return;
    }
    const connection = String(headers.connection ?? '').toLowerCase();
    this.keepAlive = status[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const encoding = String(headers['transfer-encoding'] ?? '').toLowerCase();
    const lengths = headers['content-length'] === undefined ? [] : String(headers['content-length']).split(',').map((s) => s.trim());
    if (this.method === 'HEAD' || code === 204 || code === 304) this.state = 'done';
    else if (encoding) {
      if (/(^|,)\s*chunked\s*$/.test(encoding)) this.state = 'chunk-size';
      else this.state = 'close';
    } else if (lengths.length) {
      if (!lengths.every((l) => /^\d+$/.test(l) && l === lengths[0])) throw new ResponseParseError(`content-length ${JSON.stringify(headers['content-length'])}`);
      this.remaining = Number(lengths[0]);
      this.state = this.remaining === 0 ? 'done' : 'length';
    } else this.state = 'close';
    if (this.state === 'close') this.keepAlive = false;
    this.handlers.onHead({ status: code, statusText: status[3] ?? '', headers, keepAlive: this.keepAlive });
    if (this.state === 'done') this.handlers.onEnd();
  }

  /** A chunk-size line, the CRLF after a chunk's data, or a trailer line. */
  onLine(line) {
    if (this.state === 'chunk-end') {
      if (line !== '') throw new ResponseParseError('chunk data longer than its size');
      this.state = 'chunk-size';
    } else if (this.state === 'chunk-size') {
      const size = line.split(';')[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new ResponseParseError(`chunk size ${JSON.stringify(line.slice(0, 40))}`);
      this.remaining = parseInt(size, 16);
      this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
    } else if (line === '') this.finish(); // trailers end with a blank line (they are not kept)
  }

  finish() {
    this.state = 'done';
    this.handlers.onEnd();
  }

  /** Gathers a line up to LF; returns where the rest starts, or -1 when the line is not complete yet. */
  readLine(chunk, at) {
    const lf = chunk.indexOf(10, at);
    const piece = chunk.subarray(at, lf < 0 ? chunk.length : lf + 1);
    this.line = this.line ? Buffer.concat([this.line, piece]) : Buffer.from(piece);
    if (this.line.length > MAX_LINE_BYTES) throw new ResponseParseError(`line longer than ${MAX_LINE_BYTES} bytes`);
    return lf < 0 ? -1 : lf + 1;
  }

  takeLine() {
    const line = this.line.toString('latin1').replace(/\r?\n$/, '');
    this.line = null;
    return line;
  }
}

/** An engine's response: a Readable of its body, with statusCode and headers as node:http gives them. */
export class EngineResponse extends Readable {
  /** @param {{status: number, statusText: string, headers: Record<string, string|string[]>}} head @param {() => void} onRead @param {() => void} onDestroy */
  constructor(head, onRead, onDestroy) {
    super();
    this.statusCode = head.status;
    this.statusMessage = head.statusText;
    this.headers = head.headers;
    this.complete = false;
    this.onRead = onRead;
    this.onDestroy = onDestroy;
  }

  _read() {
    this.onRead();
  }

  _destroy(error, callback) {
    if (!this.complete) this.onDestroy();
    callback(error);
  }
}

/** Keep-alive connections to one engine (host, port), used one request at a time each. */
export class Http1Client {
  /** @param {string} host @param {number} port */
  constructor(host, port) {
    this.host = host;
    this.port = port;
    /** @type {{socket: import('node:net').Socket, timer: NodeJS.Timeout, drop: () => void}[]} */
    this.idle = [];
    this.closed = false;
  }

  /**
   * Sends a request with its whole body; resolves once the response head is in. Rejects
   * with the socket's error before that (ECONNREFUSED: the engine is not listening), or
   * with an AbortError when `signal` aborts first. A reused connection that the engine
   * closed before answering is retried once on a new one (the body is all here).
   * @param {{method: string, path: string, headers: Record<string, string|string[]|undefined>, body: Buffer, signal?: AbortSignal}} request
   * @returns {Promise<EngineResponse>}
   */
  request({ method, path, headers, body, signal }) {
    const host = this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
    const head = Buffer.from(requestHead(method, path, host, headers, body.length), 'latin1');
    return this.exchange(method, head, body, signal, true);
  }

  /** @param {boolean} mayReuse an idle connection may carry it (else a new one: the retry after a reused one failed) */
  exchange(method, head, body, signal, mayReuse) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const reused = mayReuse ? this.takeIdle() : null;
      const socket = reused ?? connect({ host: this.host, port: this.port, noDelay: true });
      let response = null;
      const parser = new ResponseParser(method, {
        onHead: (h) => {
          response = new EngineResponse(
            h,
            () => parser.done || socket.resume(),
            () => {
              // The reader gave up on the body: the connection goes with it.
              cleanup();
              socket.destroy();
            },
          );
          resolve(response);
        },
        // Each 'data' chunk is a buffer of its own, so a view of it can be queued as it is.
        onBody: (bytes) => response.push(bytes) || socket.pause(),
        onEnd: () => {
          response.complete = true;
          response.push(null);
        },
      });
      const cleanup = () => {
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnd);
        socket.removeListener('close', onClose);
        socket.removeListener('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error) => {
        cleanup();
        socket.destroy();
        if (!response) {
          // The engine closed a connection it had kept open before it read this request: a new one gets it.
          if (reused && !parser.received && !signal?.aborted && !this.closed) {
            this.exchange(method, head, body, signal, false).then(resolve, reject);
          } else reject(error);
        } else if (!response.complete) {
          // As node:http does: 'aborted', then the body stream closes without an 'end'.
          response.emit('aborted');
          response.destroy();
        }
      };
      const onData = (chunk) => {
        try {
          parser.feed(chunk);
        } catch (error) {
          return fail(error);
        }
        if (!parser.done) return;
        cleanup();
        if (parser.keepAlive && !parser.surplus && !this.closed && this.idle.length < MAX_IDLE) this.keep(socket);
        else socket.destroy();
      };
      const onEnd = () => {
        try {
          parser.end();
        } catch (error) {
          return fail(Object.assign(error, { code: 'ECONNRESET' }));
        }
        cleanup();
        socket.destroy();
      };
      const onClose = () => onEnd();
      const onError = (error) => fail(error);
      const onAbort = () => fail(abortError());
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onClose);
      socket.on('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.cork();
      socket.write(head);
      if (body.length) socket.write(body);
      socket.uncork();
    });
  }

  /** A connection that answered in full waits for the next request (not keeping the process alive). */
  keep(socket) {
    const entry = { socket, timer: null, drop: null };
    const drop = () => {
      const i = this.idle.indexOf(entry);
      if (i >= 0) this.idle.splice(i, 1);
      clearTimeout(entry.timer);
      socket.removeListener('close', drop);
      socket.removeListener('error', drop);
      socket.removeListener('data', drop);
      socket.removeListener('end', drop);
      socket.destroy();
    };
    entry.drop = drop;
    // Closed, failed, or unasked-for bytes from the engine: the connection is no longer usable.
    socket.on('close', drop);
    socket.on('error', drop);
    socket.on('data', drop);
    socket.on('end', drop);
    entry.timer = setTimeout(drop, IDLE_CONNECTION_MS);
    entry.timer.unref();
    socket.unref();
    socket.resume(); // reading, so that the engine closing it is noticed (it may have been paused by a slow reader)
    this.idle.push(entry);
  }

  /** The most recently used idle connection (its socket warmest), detached from its idle watch. */
  takeIdle() {
    const entry = this.idle.pop();
    if (!entry) return null;
    clearTimeout(entry.timer);
    for (const event of ['close', 'error', 'data', 'end']) entry.socket.removeListener(event, entry.drop);
    entry.socket.ref();
    return entry.socket;
  }

  close() {
    this.closed = true;
    for (const entry of this.idle.splice(0)) entry.drop();
  }
}

function abortError() {
  return Object.assign(new Error('the request was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}
