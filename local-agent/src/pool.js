// A model's replicas as one pool: each request goes to the ready replica with the
// fewest requests in flight; a request refused before it started (the replica just
// died) is retried on another replica. Bodies stream; nothing is held whole.

import { Agent, request } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'proxy-authorization', 'proxy-authenticate']);

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

  attempt(replica, { method, path, headers, body, signal }) {
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
      const streamed = body && typeof body.pipe === 'function';
      const begin = () => {
        if (started) return;
        started = true;
        if (streamed) body.pipe(upstream);
        else upstream.end(body ?? undefined);
      };
      // A body held whole goes at once, with the head (a refused attempt sends it again). A
      // stream is only read once the connection is made, so a refused attempt can be retried with it.
      if (!streamed) begin();
      else upstream.on('socket', (socket) => (socket.connecting ? socket.once('connect', begin) : begin()));
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
        if ((!started || !streamed) && error.code === 'ECONNREFUSED') {
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
  }
}

function describeStates(replicas) {
  const counts = new Map();
  for (const r of replicas) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'no replicas';
}
