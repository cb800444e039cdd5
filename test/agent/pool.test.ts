import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool, PoolError } from '../../local-agent/src/pool.js';
import { freePorts, waitFor } from './helpers';

// Replicas as the pool sees them: ready flag, in-flight count, a port, suspect().
function replica(id: string, port: number, ready = true) {
  return { id, port, host: '127.0.0.1', state: ready ? 'ready' : 'starting', inFlight: 0, suspected: 0, get ready() { return this.state === 'ready'; }, suspect() { this.suspected++; } };
}

const servers: Server[] = [];
const pools: Pool[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const p of pools.splice(0)) p.close();
});

/** An engine stand-in that answers with its name and records the bodies it got; `hold` keeps responses open. */
async function engine(name: string, hold = false) {
  const bodies: string[] = [];
  const open: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString());
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (hold) open.push(() => res.end(name));
      else res.end(name);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, bodies, release: () => open.splice(0).forEach((f) => f()) };
}

async function text(res: NodeJS.ReadableStream) {
  let out = '';
  for await (const c of res) out += c;
  return out;
}

describe('Pool', () => {
  it('picks the ready replica with the fewest in flight, round-robin among equals', () => {
    const rs = [replica('a', 1), replica('b', 2), replica('c', 3, false), replica('d', 4)];
    const pool = new Pool('m', rs as any);
    pools.push(pool);
    expect([pool.pick(), pool.pick(), pool.pick(), pool.pick()].map((r: any) => r.id)).toEqual(['a', 'b', 'd', 'a']);
    rs[0].inFlight = 2;
    rs[1].inFlight = 1;
    rs[3].inFlight = 3;
    expect((pool.pick() as any).id).toBe('b');
    rs[2].state = 'ready';
    expect((pool.pick() as any).id).toBe('c');
    expect(pool.pick(new Set(rs as any))).toBeNull();
  });

  it('spreads concurrent requests by in-flight load and releases the count when a response ends', async () => {
    const engines = await Promise.all(['a', 'b', 'c'].map((n) => engine(n, true)));
    const rs = engines.map((e, i) => replica('abc'[i], e.port));
    const pool = new Pool('m', rs as any);
    pools.push(pool);
    const pending = Array.from({ length: 6 }, () => pool.forward({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') }));
    expect(rs.map((r) => r.inFlight)).toEqual([2, 2, 2]);
    // Every request at its engine before any is answered (on a busy machine that takes a while).
    await waitFor(() => engines.reduce((n, e) => n + e.bodies.length, 0) === 6, 'all 6 requests at the engines');
    engines.forEach((e) => e.release());
    const answers = await Promise.all(pending.map(async (p) => text((await p).res)));
    expect(answers.sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    expect(rs.map((r) => r.inFlight)).toEqual([0, 0, 0]);
  });

  it.each([
    ['streamed (node:http)', () => Readable.from([Buffer.from('{"model":"m",'), Buffer.from('"messages":[]}')])],
    ['held whole (http1-client)', () => Buffer.from('{"model":"m","messages":[]}')],
  ])('a request refused before it started is retried on another replica, body intact: %s', async (_, body) => {
    const dead = await freePorts(1); // nothing listens: ECONNREFUSED
    const live = await engine('live');
    const rs = [replica('dead', dead), replica('live', live.port)];
    const pool = new Pool('m', rs as any);
    pools.push(pool);
    const { res, replica: served } = await pool.forward({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: body() });
    expect(await text(res)).toBe('live');
    expect((served as any).id).toBe('live');
    expect(live.bodies).toEqual(['{"model":"m","messages":[]}']);
    expect(rs[0].suspected).toBe(1);
    expect(rs[0].inFlight).toBe(0);
    expect(rs[1].inFlight).toBe(0);
  });

  it('a header that would split the request is refused before anything is sent (400)', async () => {
    const live = await engine('live');
    const pool = new Pool('m', [replica('live', live.port)] as any);
    pools.push(pool);
    const error = await pool.forward({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-a': 'ok\r\nx-b: smuggled' }, body: Buffer.from('{}') }).catch((e) => e);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(live.bodies).toEqual([]);
  });

  it('503 naming the states when no replica is ready, or when every one refused', async () => {
    const pool = new Pool('m', [replica('a', 1, false), replica('b', 2, false)] as any);
    pools.push(pool);
    await expect(pool.forward({ method: 'POST', path: '/', headers: {}, body: null })).rejects.toMatchObject({ status: 503, message: 'Model "m" has no ready replica right now (2 starting).' });
    const dead = await freePorts(2);
    const pool2 = new Pool('m', [replica('a', dead), replica('b', dead + 1)] as any);
    pools.push(pool2);
    const error = await pool2.forward({ method: 'POST', path: '/', headers: {}, body: null }).catch((e) => e);
    expect(error).toBeInstanceOf(PoolError);
    expect(error.message).toBe('Every ready replica of "m" refused the connection (2 tried).');
  });
});
