import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FEATURES, FrameType, HEARTBEAT_PING, HEARTBEAT_PONG, decodeFrame, encodeFrame, encodeJsonFrame, encodeWholeFrame } from '../../local-agent/src/protocol.js';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertErrorResponse } from '../helpers/schema';

// The gateway's side of heartbeats (OnPremModel): an agent that goes silent — its machine
// gone, the connection half-open — is closed after AGENT_IDLE_TIMEOUT_MS, a request waiting
// on it ends with a clean error, and the model is offline; an agent that keeps pinging stays.
// And hibernation: workerd (here as in production) takes an idle object out of memory after
// about 10 s while its sockets stay open, and rebuilds it when a message, request or alarm
// arrives; stream ids start again at 1 in a rebuilt object, which is how a test sees that it
// was. An agent with the "heartbeat" feature is answered by the runtime without waking the
// object, and the sweep (an alarm) counts those answers as life.

const TOKEN = 'agent-token-for-heartbeat-tests';

/**
 * A stand-in agent for `model` that says hello with `features`, records the requests it gets
 * and answers each with a completion naming its stream id, unless `hold` (then it keeps them);
 * it sends no heartbeat unless the test does. `closed` resolves with the gateway's close code and reason.
 */
async function dialAgent(gateway: Gateway, model: string, { features = FEATURES, hold = false }: { features?: readonly string[]; hold?: boolean } = {}) {
  const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/agent/connect?model=${model}`, { headers: { authorization: `Bearer ${TOKEN}` }, perMessageDeflate: false });
  const requests: number[] = [];
  const texts: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => (welcomed = r));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return void texts.push(String(data));
    const frame = decodeFrame(data);
    if (frame.type === FrameType.WELCOME) welcomed();
    if (frame.type !== FrameType.REQUEST) return;
    requests.push(frame.streamId);
    if (hold) return;
    // A request with "pause_ms" (the body passes through unparsed) is answered as a stream that pauses.
    const pauseMs = JSON.parse(Buffer.from(frame.body!).toString()).pause_ms;
    if (pauseMs) return void streamSlowly(frame.streamId, pauseMs);
    const completion = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `stream ${frame.streamId}` }, finish_reason: 'stop' }] };
    ws.send(encodeWholeFrame(FrameType.RESPONSE, frame.streamId, { status: 200, headers: { 'content-type': 'application/json' } }, Buffer.from(JSON.stringify(completion)))!);
  });
  /** A streamed answer whose head comes at once and whose events come `pauseMs` later (an engine thinking). */
  const streamSlowly = (id: number, pauseMs: number) => {
    ws.send(encodeJsonFrame(FrameType.RESPONSE_HEAD, id, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
    ws.send(encodeFrame(FrameType.RESPONSE_BODY, id, Buffer.from('data: {"first":true}\n\n')));
    setTimeout(() => {
      ws.send(encodeFrame(FrameType.RESPONSE_BODY, id, Buffer.from('data: {"after_the_pause":true}\n\ndata: [DONE]\n\n')));
      ws.send(encodeFrame(FrameType.RESPONSE_END, id));
    }, pauseMs);
  };
  await new Promise((r) => ws.once('open', r));
  ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model, engine: 'vllm', capacity: 2, agent: `box-${model}`, features }));
  await welcome;
  return { ws, requests, texts, closed };
}

const chat = (gateway: Gateway, model: string) =>
  fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }),
  });

async function answer(gateway: Gateway, model: string): Promise<string> {
  const res = await chat(gateway, model);
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  return body.choices[0].message.content;
}

describe('OnPremModel heartbeat sweep', () => {
  const IDLE_MS = 600;
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({ AGENT_TOKENS: TOKEN, AGENT_IDLE_TIMEOUT_MS: String(IDLE_MS) });
  }, 60_000);
  afterAll(() => gateway?.close());

  it('a silent agent is closed (1001, no heartbeat); the request it held ends with a 502, the next finds the model offline (503)', async () => {
    const silent = await dialAgent(gateway, 'idle-silent', { hold: true });
    const held = chat(gateway, 'idle-silent');
    await expect.poll(() => silent.requests.length).toBe(1);
    expect(await silent.closed).toEqual({ code: 1001, reason: 'no heartbeat' });
    const res = await held;
    expect(res.status).toBe(502);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error.code).toBe('agent_disconnected');
    const next = await chat(gateway, 'idle-silent');
    expect(next.status).toBe(503);
    expect((await next.json()).error.code).toBe('model_offline');
  });

  it('an agent that pings with frames (no "heartbeat" feature) stays connected past the idle limit and serves', async () => {
    const pinging = await dialAgent(gateway, 'idle-pinging', { features: FEATURES.filter((f) => f !== 'heartbeat') });
    const pings = setInterval(() => pinging.ws.send(encodeFrame(FrameType.PING, 0, Buffer.from('hb'))), IDLE_MS / 4);
    let closed = false;
    void pinging.closed.then(() => (closed = true));
    try {
      await new Promise((r) => setTimeout(r, IDLE_MS * 3));
      expect(closed).toBe(false);
      expect(await answer(gateway, 'idle-pinging')).toMatch(/^stream \d+$/);
    } finally {
      clearInterval(pings);
      pinging.ws.terminate();
    }
  });
});

// Its two tests wait ≈ 12–15 s each on different models' objects: run side by side.
describe.concurrent('OnPremModel hibernation', () => {
  // Longer than workerd's ≈ 10 s before it evicts an idle object.
  const IDLE_MS = 13_000;
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({ AGENT_TOKENS: TOKEN, AGENT_IDLE_TIMEOUT_MS: String(IDLE_MS) });
  }, 60_000);
  afterAll(() => gateway?.close());

  it('an agent heartbeating as text stays through hibernation and serves; a silent one is closed at its deadline', async ({ expect }) => {
    const alive = await dialAgent(gateway, 'hib-alive');
    const silent = await dialAgent(gateway, 'hib-silent', { features: FEATURES.filter((f) => f !== 'heartbeat') });
    expect(await answer(gateway, 'hib-alive')).toBe('stream 1');
    expect(await answer(gateway, 'hib-alive')).toBe('stream 2');
    let closedAlive = false;
    void alive.closed.then(() => (closedAlive = true));
    // Text heartbeats every 2 s, answered by the runtime: the object sleeps on.
    const pings = setInterval(() => alive.ws.send(HEARTBEAT_PING), 2_000);
    try {
      expect(await silent.closed).toEqual({ code: 1001, reason: 'no heartbeat' });
      await new Promise((r) => setTimeout(r, 2_500));
      expect(closedAlive).toBe(false);
      expect(alive.texts.filter((t) => t === HEARTBEAT_PONG).length).toBeGreaterThanOrEqual(5);
      // Rebuilt from the socket's attachment (hello, capacity): stream ids start again.
      expect(await answer(gateway, 'hib-alive')).toBe('stream 1');
      await expect(answer(gateway, 'hib-silent')).rejects.toThrow(/503.*model_offline/);
    } finally {
      clearInterval(pings);
      alive.ws.terminate();
    }
  }, 40_000);

  it('a stream that pauses longer than an idle object lasts (an engine thinking) arrives whole', async ({ expect }) => {
    const thinking = await dialAgent(gateway, 'hib-thinking');
    const pings = setInterval(() => thinking.ws.send(HEARTBEAT_PING), 2_000);
    try {
      const res = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'hib-thinking', stream: true, pause_ms: 12_000, messages: [{ role: 'user', content: 'Hi' }] }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('data: {"first":true}\n\ndata: {"after_the_pause":true}\n\ndata: [DONE]\n\n');
    } finally {
      clearInterval(pings);
      thinking.ws.terminate();
    }
  }, 40_000);
});
