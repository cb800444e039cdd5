import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { validateConfig } from '../../local-agent/src/config.js';
import { planReplicas } from '../../local-agent/src/plan.js';
import { Pool } from '../../local-agent/src/pool.js';
import { FrameType, HEARTBEAT_PING, HEARTBEAT_PONG, decodeFrame, encodeFrame, encodeJsonFrame, encodeWholeFrame } from '../../local-agent/src/protocol.js';
import { Supervisor } from '../../local-agent/src/supervisor.js';
import { TunnelClient } from '../../local-agent/src/tunnel.js';
import { fastTimings, freePorts, lmdeployBin, mockStats, tempDir, vllmBin, waitFor } from './helpers';

// The agent's tunnel client against a stand-in gateway speaking the protocol, with a
// pool of real mock-engine processes behind it.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeGateway(token = 'agent-token', features: string[] = []) {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    verifyClient: (info: any, cb: any) => (info.req.headers.authorization === `Bearer ${token}` ? cb(true) : cb(false, 401, 'invalid agent token')),
  });
  await new Promise((r) => wss.once('listening', r));
  const sockets: { ws: WebSocket; frames: any[]; texts: string[]; url: string; silent: boolean }[] = [];
  wss.on('connection', (ws, req) => {
    const conn = { ws, frames: [] as any[], texts: [] as string[], url: req.url!, silent: false };
    sockets.push(conn);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // Text: a heartbeat, answered as the gateway's runtime answers it (setWebSocketAutoResponse).
      if (!isBinary) {
        conn.texts.push(String(data));
        if (!conn.silent && String(data) === HEARTBEAT_PING) ws.send(HEARTBEAT_PONG);
        return;
      }
      const frame = decodeFrame(data);
      conn.frames.push(frame);
      if (conn.silent) return;
      if (frame.type === FrameType.HELLO) ws.send(encodeJsonFrame(FrameType.WELCOME, 0, { version: 1, features }));
      if (frame.type === FrameType.PING) ws.send(encodeFrame(FrameType.PONG, 0, frame.payload));
    });
  });
  cleanups.push(() => {
    for (const s of sockets) s.ws.terminate();
    return new Promise((r) => wss.close(r));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as any).port}`, sockets };
}

async function agentPool(replicas = 2, extra: Record<string, unknown> = {}) {
  const base = await freePorts(replicas);
  const config = validateConfig({ gpus: [0, 1, 2, 3], state_dir: tempDir(), ...fastTimings, models: [{ name: 'qwen', engine: 'vllm', binary: vllmBin, model: 'Q', replicas, base_port: base, ...extra }] }, { baseDir: '/' });
  const supervisor = new Supervisor(planReplicas(config, null), config, { log: () => {} });
  supervisor.start();
  cleanups.push(() => supervisor.stop());
  await waitFor(() => supervisor.replicas.every((r) => r.ready), 'replicas ready');
  const pool = new Pool('qwen', supervisor.replicas);
  cleanups.push(() => pool.close());
  return { pool, base };
}

function tunnel(pool: Pool, url: string, token = 'agent-token') {
  const lines: string[] = [];
  const client = new TunnelClient(pool, { url, token, engine: 'vllm', capacity: 2, agentName: 'box-1', heartbeatMs: 100, reconnectInitialMs: 20, reconnectMaxMs: 100, log: (l: string) => lines.push(l) });
  client.start();
  cleanups.push(() => client.close());
  return { client, lines };
}

function sendRequest(ws: WebSocket, id: number, body: unknown) {
  ws.send(encodeJsonFrame(FrameType.REQUEST_HEAD, id, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }));
  const bytes = Buffer.from(JSON.stringify(body));
  // the body in small pieces, as the gateway streams it
  for (let i = 0; i < bytes.length; i += 7) ws.send(encodeFrame(FrameType.REQUEST_BODY, id, bytes.subarray(i, i + 7)));
  ws.send(encodeFrame(FrameType.REQUEST_END, id));
}

const forStream = (frames: any[], id: number) => frames.filter((f) => f.streamId === id);
const text = (frames: any[]) => Buffer.concat(frames.filter((f) => f.type === FrameType.RESPONSE_BODY).map((f) => Buffer.from(f.payload))).toString();

describe('TunnelClient', () => {
  it('says hello with its pool, then relays multiplexed requests and streamed responses', async () => {
    const gw = await fakeGateway();
    const { pool } = await agentPool();
    tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    expect(conn.url).toBe('/v1/agent/connect?model=qwen');
    expect(conn.frames[0].json).toEqual({ version: 1, model: 'qwen', engine: 'vllm', capacity: 2, agent: 'box-1', features: ['whole', 'flow', 'heartbeat'] });

    sendRequest(conn.ws, 1, { model: 'qwen', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true }, top_k: 5 });
    sendRequest(conn.ws, 2, { model: 'qwen', messages: [{ role: 'user', content: 'hi' }] });
    await waitFor(() => [1, 2].every((id) => forStream(conn.frames, id).some((f) => f.type === FrameType.RESPONSE_END)), 'both responses');
    const [head1] = forStream(conn.frames, 1);
    expect(head1.type).toBe(FrameType.RESPONSE_HEAD);
    expect(head1.json.status).toBe(200);
    expect(head1.json.headers['content-type']).toBe('text/event-stream');
    expect(text(forStream(conn.frames, 1))).toMatch(/data: \{.*"usage".*\n\ndata: \[DONE\]\n\n$/s);
    expect(JSON.parse(text(forStream(conn.frames, 2))).object).toBe('chat.completion');
  });

  it('with a gateway that offers "whole": a REQUEST frame in, a complete answer as one RESPONSE frame, a stream still chunk by chunk', async () => {
    const gw = await fakeGateway('agent-token', ['whole']);
    const { pool, base } = await agentPool(1);
    tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    await new Promise((r) => setTimeout(r, 50)); // the welcome reaches the agent
    const whole = (id: number, body: unknown) => conn.ws.send(encodeWholeFrame(FrameType.REQUEST, id, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }, Buffer.from(JSON.stringify(body)))!);
    whole(1, { model: 'qwen', messages: [{ role: 'user', content: 'hi' }] });
    whole(2, { model: 'qwen', messages: [{ role: 'user', content: 'hi' }], stream: true, mock_delay_ms: 5 });
    await waitFor(() => forStream(conn.frames, 1).length && forStream(conn.frames, 2).some((f) => f.type === FrameType.RESPONSE_END), 'both answers');
    const [answer] = forStream(conn.frames, 1);
    expect(answer).toMatchObject({ type: FrameType.RESPONSE, json: { status: 200 } });
    expect(JSON.parse(Buffer.from(answer.body).toString()).choices[0].message.content).toBe(`Hello from vllm port ${base}`);
    expect(forStream(conn.frames, 2)[0].type).toBe(FrameType.RESPONSE_HEAD);
    expect(forStream(conn.frames, 2).filter((f) => f.type === FrameType.RESPONSE_BODY).length).toBeGreaterThan(1);
    // The engine got the body with its length, not chunked.
    expect((await mockStats(base)).lastBody).toMatchObject({ model: 'qwen', stream: true });
  });

  it('engine events that arrive together go on as one frame (whatever one read brought), events apart as frames apart', async () => {
    const gw = await fakeGateway('agent-token', ['whole', 'flow']);
    const { pool } = await agentPool(1);
    tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    await new Promise((r) => setTimeout(r, 50)); // the welcome reaches the agent
    sendRequest(conn.ws, 5, { model: 'qwen', messages: [{ role: 'user', content: 'hi' }], stream: true, mock_chunks: 300 });
    await waitFor(() => forStream(conn.frames, 5).some((f) => f.type === FrameType.RESPONSE_END), 'the stream to end');
    const bodies = forStream(conn.frames, 5).filter((f) => f.type === FrameType.RESPONSE_BODY);
    const text = Buffer.concat(bodies.map((f) => Buffer.from(f.payload))).toString();
    expect(text.match(/^data: /gm)).toHaveLength(300 + 3); // role, 300 pieces, finish; then [DONE]
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(bodies.length).toBeLessThan(100); // 303 events written at once by a zero-latency engine
  });

  it('PAUSE stops reading the engine\'s answer; RESUME reads on to its end', async () => {
    const gw = await fakeGateway('agent-token', ['whole', 'flow']);
    const { pool } = await agentPool(1);
    tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    sendRequest(conn.ws, 3, { model: 'qwen', messages: [{ role: 'user', content: 'hi' }], stream: true, mock_chunks: 100, mock_delay_ms: 5 });
    await waitFor(() => forStream(conn.frames, 3).filter((f) => f.type === FrameType.RESPONSE_BODY).length >= 2, 'the stream to begin');
    conn.ws.send(encodeFrame(FrameType.PAUSE, 3));
    await new Promise((r) => setTimeout(r, 100));
    const whilePaused = forStream(conn.frames, 3).length;
    await new Promise((r) => setTimeout(r, 300)); // the engine writes an event every 5 ms meanwhile
    expect(forStream(conn.frames, 3).length).toBe(whilePaused);
    conn.ws.send(encodeFrame(FrameType.RESUME, 3));
    await waitFor(() => forStream(conn.frames, 3).some((f) => f.type === FrameType.RESPONSE_END), 'the rest of the stream');
    expect(text(forStream(conn.frames, 3))).toMatch(/data: \[DONE\]\n\n$/);
  });

  it('tells the gateway its capacity (ready replicas) when it changes; grants body credits as the engine takes the body', async () => {
    const gw = await fakeGateway('agent-token', ['whole', 'flow']);
    const { pool } = await agentPool(2);
    const { client } = tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    expect(conn.frames[0].json.capacity).toBe(2);
    await waitFor(() => client.connected, 'the welcome');
    client.updateCapacity();
    expect(conn.frames.filter((f) => f.type === FrameType.CAPACITY)).toHaveLength(0); // unchanged: nothing sent
    pool.replicas[1].state = 'backoff';
    client.updateCapacity();
    await waitFor(() => conn.frames.some((f) => f.type === FrameType.CAPACITY), 'CAPACITY');
    expect(conn.frames.find((f) => f.type === FrameType.CAPACITY).json).toEqual({ capacity: 1 });
    pool.replicas[1].state = 'ready';

    // A 3 MiB body in frames: one RESUME per 512 KiB window the engine took.
    const body = Buffer.from(JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'b'.repeat(3 * 1024 * 1024) }] }));
    conn.ws.send(encodeJsonFrame(FrameType.REQUEST_HEAD, 9, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }));
    for (let i = 0; i < body.length; i += 256 * 1024) conn.ws.send(encodeFrame(FrameType.REQUEST_BODY, 9, body.subarray(i, i + 256 * 1024)));
    conn.ws.send(encodeFrame(FrameType.REQUEST_END, 9));
    await waitFor(() => forStream(conn.frames, 9).some((f) => f.type === FrameType.RESPONSE || f.type === FrameType.RESPONSE_END), 'the answer');
    expect(forStream(conn.frames, 9).filter((f) => f.type === FrameType.RESUME)).toHaveLength(Math.floor(body.length / (512 * 1024)));
  });

  it('an engine error comes back as the engine answered; no ready replica → an ERROR frame with 503', async () => {
    const gw = await fakeGateway();
    const { pool } = await agentPool(1);
    tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    sendRequest(conn.ws, 5, { model: 'other', messages: [{ role: 'user', content: 'x' }] });
    await waitFor(() => forStream(conn.frames, 5).some((f) => f.type === FrameType.RESPONSE_END), 'the 404');
    expect(forStream(conn.frames, 5)[0].json.status).toBe(404);
    pool.replicas[0].state = 'backoff';
    sendRequest(conn.ws, 6, { model: 'qwen', messages: [{ role: 'user', content: 'x' }] });
    await waitFor(() => forStream(conn.frames, 6).length, 'the error');
    expect(forStream(conn.frames, 6)[0]).toMatchObject({ type: FrameType.ERROR, json: { status: 503, code: 'model_not_ready' } });
  });

  it('merge_consecutive_roles: the engine sees alternating roles; other models get the body unchanged', async () => {
    const gw = await fakeGateway();
    const { pool, base } = await agentPool(1, { engine: 'lmdeploy', binary: lmdeployBin, merge_consecutive_roles: true });
    tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    sendRequest(conn.ws, 3, { model: 'qwen', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'a' }, { role: 'user', content: 'b' }], repetition_penalty: 1.1 });
    await waitFor(() => forStream(conn.frames, 3).some((f) => f.type === FrameType.RESPONSE_END), 'the answer');
    const stats = await mockStats(base);
    expect(stats.lastRoles).toEqual(['system', 'user']);
    expect(stats.lastBody.repetition_penalty).toBe(1.1);
  });

  it('CANCEL aborts the engine request', async () => {
    const gw = await fakeGateway();
    const { pool, base } = await agentPool(1);
    tunnel(pool, gw.url);
    const conn = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    sendRequest(conn.ws, 9, { model: 'qwen', messages: [{ role: 'user', content: 'x' }], stream: true, mock_chunks: 500, mock_delay_ms: 10 });
    await waitFor(() => forStream(conn.frames, 9).filter((f) => f.type === FrameType.RESPONSE_BODY).length >= 2, 'the stream to start');
    conn.ws.send(encodeFrame(FrameType.CANCEL, 9));
    await waitFor(async () => (await mockStats(base)).cancelled === 1, 'the engine to see the cancel');
    expect(forStream(conn.frames, 9).some((f) => f.type === FrameType.RESPONSE_END)).toBe(false);
  });

  it('answers pings, and reconnects after the socket dies or a frame breaks the protocol', async () => {
    const gw = await fakeGateway();
    const { pool } = await agentPool(1);
    const { client, lines } = tunnel(pool, gw.url);
    const first = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    first.ws.send(encodeFrame(FrameType.PING, 0, new Uint8Array([7])));
    await waitFor(() => first.frames.some((f) => f.type === FrameType.PONG && f.payload[0] === 7), 'pong');
    first.ws.terminate();
    const second = await waitFor(() => gw.sockets[1]?.frames.length && gw.sockets[1], 'reconnect');
    expect(second.frames[0].type).toBe(FrameType.HELLO);
    second.ws.send('not a frame');
    const third = await waitFor(() => gw.sockets[2]?.frames.length && gw.sockets[2], 'reconnect after a protocol error');
    expect(second.frames.some((f) => f.type === FrameType.ERROR && /frames are binary/.test(f.json.message))).toBe(true);
    expect(third.frames[0].type).toBe(FrameType.HELLO);
    expect(lines.some((l) => l.includes('protocol error from the gateway: text message'))).toBe(true);
    await waitFor(() => client.connections === 3, 'three connections');
    await new Promise((r) => setTimeout(r, 300)); // heartbeats answered: the third connection stays
    expect(gw.sockets).toHaveLength(3);
  });

  it('with a gateway that offers "heartbeat", heartbeats are text pings; its pongs keep the connection', async () => {
    const gw = await fakeGateway('agent-token', ['whole', 'flow', 'heartbeat']);
    const { pool } = await agentPool(1);
    const { lines } = tunnel(pool, gw.url);
    const first = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    await waitFor(() => first.texts.length >= 4, 'four text heartbeats');
    expect(new Set(first.texts)).toEqual(new Set([HEARTBEAT_PING]));
    expect(first.frames.some((f) => f.type === FrameType.PING)).toBe(false);
    expect(gw.sockets).toHaveLength(1);
    // Unanswered, they end the connection as frame heartbeats do.
    first.silent = true;
    await waitFor(() => gw.sockets[1]?.frames.length, 'reconnect');
    expect(lines.some((l) => l.includes('no heartbeat from the gateway'))).toBe(true);
  });

  it('a gateway that stops answering heartbeats is left and redialled', async () => {
    const gw = await fakeGateway();
    const { pool } = await agentPool(1);
    const { lines } = tunnel(pool, gw.url);
    const first = await waitFor(() => gw.sockets[0]?.frames.length && gw.sockets[0], 'hello');
    first.silent = true; // no pongs, nothing
    await waitFor(() => gw.sockets[1]?.frames.length, 'reconnect');
    expect(lines.some((l) => l.includes('no heartbeat from the gateway'))).toBe(true);
  });

  it('a bad agent token: a clear log line, retried with backoff, nothing else disturbed', async () => {
    const gw = await fakeGateway('right');
    const { pool } = await agentPool(1);
    const { client, lines } = tunnel(pool, gw.url, 'wrong');
    await waitFor(() => lines.filter((l) => l.includes('the gateway rejected the agent token')).length >= 2, 'two rejections');
    expect(client.connected).toBe(false);
    expect(gw.sockets).toHaveLength(0);
    expect(pool.replicas[0].ready).toBe(true);
  });
});
