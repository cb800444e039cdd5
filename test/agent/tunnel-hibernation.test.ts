import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FEATURES, FrameType, HEARTBEAT_PING, HEARTBEAT_PONG, decodeFrame, encodeJsonFrame, encodeWholeFrame } from '../../local-agent/src/protocol.js';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';

// OnPremModel with hibernatable agent sockets. workerd (here as in production) takes an idle
// object out of memory after about 10 s while its sockets stay open; it is rebuilt when a
// message, request or alarm arrives. Stream ids start again at 1 in a rebuilt object, which is
// how these tests see that it was. An agent with the "heartbeat" feature is answered by the
// runtime without waking the object, and the sweep (an alarm) counts those answers as life;
// an agent that says nothing is closed even though the object slept through its deadline.

const TOKEN = 'agent-token-for-hibernation-tests';
// Longer than workerd's ≈ 10 s before it evicts an idle object.
const IDLE_MS = 13_000;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ AGENT_TOKENS: TOKEN, AGENT_IDLE_TIMEOUT_MS: String(IDLE_MS) });
}, 60_000);
afterAll(() => gateway?.close());

/** An agent that answers every request with a completion naming the request's stream id, and sends only the heartbeats the test sends. */
async function agent(model: string, features: readonly string[]) {
  const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/agent/connect?model=${model}`, { headers: { authorization: `Bearer ${TOKEN}` }, perMessageDeflate: false });
  const texts: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => (welcomed = r));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return void texts.push(String(data));
    const frame = decodeFrame(data);
    if (frame.type === FrameType.WELCOME) welcomed();
    if (frame.type === FrameType.REQUEST) {
      const completion = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `stream ${frame.streamId}` }, finish_reason: 'stop' }] };
      ws.send(encodeWholeFrame(FrameType.RESPONSE, frame.streamId, { status: 200, headers: { 'content-type': 'application/json' } }, Buffer.from(JSON.stringify(completion)))!);
    }
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model, engine: 'vllm', capacity: 2, agent: `box-${model}`, features }));
  await welcome;
  return { ws, texts, closed };
}

async function answer(model: string): Promise<string> {
  const res = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  return body.choices[0].message.content;
}

describe('OnPremModel hibernation', () => {
  it('an agent heartbeating as text stays through hibernation and serves; a silent one is closed at its deadline', async () => {
    const alive = await agent('hib-alive', FEATURES);
    const silent = await agent('hib-silent', FEATURES.filter((f) => f !== 'heartbeat'));
    expect(await answer('hib-alive')).toBe('stream 1');
    expect(await answer('hib-alive')).toBe('stream 2');
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
      expect(await answer('hib-alive')).toBe('stream 1');
      await expect(answer('hib-silent')).rejects.toThrow(/503.*model_offline/);
    } finally {
      clearInterval(pings);
      alive.ws.terminate();
    }
  }, 40_000);
});
