import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FEATURES, FrameType, decodeFrame, encodeFrame, encodeJsonFrame } from '../../local-agent/src/protocol.js';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertErrorResponse } from '../helpers/schema';

// The gateway's heartbeat sweep (OnPremModel): an agent that goes silent — its machine gone,
// the connection half-open — is closed after AGENT_IDLE_TIMEOUT_MS, a request waiting on it
// ends with a clean error, and the model is offline; an agent that keeps pinging stays.

const TOKEN = 'agent-token-for-idle-tests';
const IDLE_MS = 600;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ AGENT_TOKENS: TOKEN, AGENT_IDLE_TIMEOUT_MS: String(IDLE_MS) });
}, 60_000);
afterAll(() => gateway?.close());

/** An agent that says hello and then only does what the test says; `closed` resolves with the code and reason the gateway closed it with. */
async function agent(model: string) {
  const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/agent/connect?model=${model}`, { headers: { authorization: `Bearer ${TOKEN}` }, perMessageDeflate: false });
  const requests: number[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => (welcomed = r));
  ws.on('message', (data: Buffer) => {
    const frame = decodeFrame(data);
    if (frame.type === FrameType.WELCOME) welcomed();
    if (frame.type === FrameType.REQUEST || frame.type === FrameType.REQUEST_HEAD) requests.push(frame.streamId);
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model, engine: 'vllm', capacity: 1, agent: `box-${model}`, features: FEATURES }));
  await welcome;
  return { ws, requests, closed };
}

const chat = (model: string) =>
  fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }),
  });

describe('OnPremModel heartbeat sweep', () => {
  it('a silent agent is closed (1001, no heartbeat); the request it held ends with a 502, the next finds the model offline (503)', async () => {
    const silent = await agent('idle-silent');
    const answer = chat('idle-silent');
    await expect.poll(() => silent.requests.length).toBe(1);
    expect(await silent.closed).toEqual({ code: 1001, reason: 'no heartbeat' });
    const held = await answer;
    expect(held.status).toBe(502);
    const body = await held.json();
    assertErrorResponse(body);
    expect(body.error.code).toBe('agent_disconnected');
    const next = await chat('idle-silent');
    expect(next.status).toBe(503);
    expect((await next.json()).error.code).toBe('model_offline');
  });

  it('an agent that pings stays connected past the idle limit and serves', async () => {
    const pinging = await agent('idle-pinging');
    const pings = setInterval(() => pinging.ws.send(encodeFrame(FrameType.PING, 0, Buffer.from('hb'))), IDLE_MS / 4);
    let closed = false;
    void pinging.closed.then(() => (closed = true));
    try {
      await new Promise((r) => setTimeout(r, IDLE_MS * 3));
      expect(closed).toBe(false);
      const answer = chat('idle-pinging');
      await expect.poll(() => pinging.requests.length).toBe(1);
      pinging.ws.send(encodeJsonFrame(FrameType.ERROR, pinging.requests[0], { status: 503, message: 'Model has no ready replica right now.', code: 'model_not_ready' }));
      expect((await answer).status).toBe(503);
    } finally {
      clearInterval(pings);
      pinging.ws.terminate();
    }
  });
});
