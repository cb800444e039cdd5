// A model's replicas as one pool: each request goes to the ready replica with the
// fewest requests in flight; a request refused before it started (the replica just
// died) is retried on another replica. Bodies stream; nothing is held whole. A body
// that came whole goes through the agent's own HTTP/1.1 client (http1-client.js), a
// streamed one through node:http.

import { Agent, request } from 'node:http';
import { HOP_BY_HOP, Http1Client } from './http1-client.js';

const EMPTY = Buffer.alloc(0);

export class PoolError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Pool {
  /** @param {string} name @param {import('./supervisor.js').Replica[]} replicas */
  constructor(name, replicas) {
    this.name = name;
    this.replicas = replicas;
    this.turn = 0;
    this.agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    /** @type {Map<string, Http1Client>} by replica address */
    this.clients = new Map();
  }

  get readyCount() {
    return this.replicas.filter((r) => r.ready).length;
  }

  /** The ready replica with the fewest in flight; ties go round-robin so idle replicas share the work. */
  pick(exclude = new Set()) {
    let best = null;
    const n = this.replicas.length;
    for (let k = 0; k < n; k++) {
      const r = this.replicas[(this.turn + k) % n];
      if (!r.ready || exclude.has(r)) continue;
      if (!best || r.inFlight < best.inFlight) best = r;
    }
    if (best) this.turn = (this.replicas.indexOf(best) + 1) % n;
    return best;
  }

  /**
   * Sends one request to a replica. Resolves with the engine's response head and streaming body.
   * @param {{method: string, path: string, headers: Record<string, string|string[]|undefined>, body?: import('node:stream').Readable|Buffer|null, signal?: AbortSignal}} req
   * @returns {Promise<{res: import('node:http').IncomingMessage, replica: import('./supervisor.js').Replica}>}
   */
  async forward(req) {
    const tried = new Set();
    for (;;) {
      const replica = this.pick(tried);
      if (!replica) {
        if (tried.size) throw new PoolError(503, `Every ready replica of "${this.name}" refused the connection (${tried.size} tried).`, 'replicas_unavailable');
        throw new PoolError(503, `Model "${this.name}" has no ready replica right now (${describeStates(this.replicas)}).`, 'model_not_ready');
      }
      tried.add(replica);
      try {
        return await this.attempt(replica, req);
      } catch (error) {
        if (error.refused) {
          replica.suspect();
          continue;
        }
        throw error;
      }
    }
  }

  attempt(replica, req) {
    return req.body && typeof req.body.pipe === 'function' ? this.attemptStreamed(replica, req) : this.attemptWhole(replica, req);
  }

  /** A body held whole: one write on a kept-alive connection; a refused connection can be retried elsewhere with it. */
  async attemptWhole(replica, { method, path, headers, body, signal }) {
    const address = `${replica.host}:${replica.port}`;
    let client = this.clients.get(address);
    if (!client) this.clients.set(address, (client = new Http1Client(replica.host, replica.port)));
    replica.inFlight++;
    let res;
    try {
      res = await client.request({ method, path, headers, body: body ?? EMPTY, signal });
    } catch (error) {
      replica.inFlight--;
      if (error.code === 'ECONNREFUSED') throw Object.assign(new Error(`replica ${replica.id} refused the connection`), { refused: true });
      if (signal?.aborted) throw new PoolError(499, 'The client closed the request.', 'client_closed');
      if (error instanceof TypeError) throw new PoolError(400, `The request cannot be sent to the engine: ${error.message}.`, 'invalid_request');
      throw new PoolError(502, `Replica ${replica.id} (port ${replica.port}) failed: ${error.code ?? error.message}`, 'engine_error');
    }
    res.once('close', () => replica.inFlight--);
    return { res, replica };
  }

  /** A streamed body (a Readable): through node:http, piped once the connection is made. */
  attemptStreamed(replica, { method, path, headers, body, signal }) {
    return new Promise((resolve, reject) => {
      replica.inFlight++;
      let released = false;
      const release = () => {
        if (!released) {
          released = true;
          replica.inFlight--;
        }
      };
      const outHeaders = {};
      for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) outHeaders[k] = v;
      const upstream = request({ host: replica.host, port: replica.port, method, path, headers: outHeaders, agent: this.agent });
      let started = false;
      const begin = () => {
        if (started) return;
        started = true;
        body.pipe(upstream);
      };
      // The body is only read once the connection is made, so a refused attempt can be retried with it.
      upstream.on('socket', (socket) => (socket.connecting ? socket.once('connect', begin) : begin()));
      const onAbort = () => upstream.destroy(new Error('client went away'));
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      upstream.on('response', (res) => {
        res.once('close', () => {
          release();
          signal?.removeEventListener('abort', onAbort);
        });
        resolve({ res, replica });
      });
      upstream.on('error', (error) => {
        release();
        signal?.removeEventListener('abort', onAbort);
        if (!started && error.code === 'ECONNREFUSED') {
          reject(Object.assign(new Error(`replica ${replica.id} refused the connection`), { refused: true }));
        } else if (signal?.aborted) {
          reject(new PoolError(499, 'The client closed the request.', 'client_closed'));
        } else {
          reject(new PoolError(502, `Replica ${replica.id} (port ${replica.port}) failed: ${error.code ?? error.message}`, 'engine_error'));
        }
      });
    });
  }

  close() {
    this.agent.destroy();
    for (const client of this.clients.values()) client.close();
  }
}

function describeStates(replicas) {
  const counts = new Map();
  for (const r of replicas) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'no replicas';
}
