import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BODY_WINDOW, FEATURES, FrameType, MAX_CHUNK, decodeFrame, encodeFrame, encodeJsonFrame, encodeWholeFrame, type Frame } from '../../local-agent/src/protocol.js';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertErrorResponse } from '../helpers/schema';
import { waitFor } from './helpers';

// The gateway's side of the tunnel (the OnPremModel Durable Object in workerd, and the
// Worker's streaming path for on-prem bodies) against stand-in agents that speak the
// protocol directly, so each agent's answers and the frames it receives are scripted:
// a refusal retried on another agent, balancing by the capacity agents report, bodies
// streamed through unparsed, and the errors a client gets for them.

const TOKEN = 'agent-token-for-gateway-tests';
const MAX_BODY_BYTES = 8 * 1024 * 1024;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  gateway = await startGateway({
    AGENT_TOKENS: TOKEN,
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    AGENT_IDLE_TIMEOUT_MS: '30000',
    MODELS: JSON.stringify({ 'qwen-alias': { target: 'onprem/alias-target' } }),
  });
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: TEST_GATEWAY_KEY, maxRetries: 0 });
}, 60_000);
afterAll(() => gateway?.close());

const agents: FakeAgent[] = [];
afterEach(() => {
  for (const a of agents.splice(0)) a.ws.terminate();
});

type Answer = (request: { id: number; head: any; body: Buffer }) => 'refuse' | 'hold' | object;

interface FakeAgent {
  ws: WebSocket;
  requests: { id: number; head: any; body: Buffer }[];
  held: number[];
  cancelled: number[];
  answer: Answer;
  /** Grant the gateway a credit (RESUME) for each BODY_WINDOW of body received, as a real agent does once its engine took it. */
  autoCredit: boolean;
  /** Refuse streamed requests at their head (model_not_ready), as a real agent with no ready replica does, before any credit. */
  refuseAtHead: boolean;
  capacity(n: number): void;
  release(): void;
}

/** An agent serving `model`: answers each complete request as `answer` says (a completion object, a refusal, or held until release()). */
async function fakeAgent(model: string, capacity: number, answer: Answer): Promise<FakeAgent> {
  const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/agent/connect?model=${model}`, { headers: { authorization: `Bearer ${TOKEN}` }, perMessageDeflate: false });
  const agent: FakeAgent = {
    ws,
    requests: [],
    held: [],
    cancelled: [],
    answer,
    autoCredit: true,
    refuseAtHead: false,
    capacity: (n) => ws.send(encodeJsonFrame(FrameType.CAPACITY, 0, { capacity: n })),
    release: () => {
      for (const id of agent.held.splice(0)) reply(id, { object: 'chat.completion', held: true });
    },
  };
  const reply = (id: number, completion: object) => ws.send(encodeWholeFrame(FrameType.RESPONSE, id, { status: 200, headers: { 'content-type': 'application/json' } }, Buffer.from(JSON.stringify(completion)))!);
  const bodies = new Map<number, { head: any; parts: Buffer[] }>();
  const refused = new Set<number>();
  const complete = (id: number, head: any, body: Buffer) => {
    agent.requests.push({ id, head, body });
    const verdict = agent.answer({ id, head, body });
    if (verdict === 'refuse') ws.send(encodeJsonFrame(FrameType.ERROR, id, { status: 503, message: 'Model has no ready replica right now (1 backoff).', code: 'model_not_ready' }));
    else if (verdict === 'hold') agent.held.push(id);
    else reply(id, verdict);
  };
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => (welcomed = r));
  ws.on('message', (data: Buffer) => {
    const frame: Frame = decodeFrame(data);
    if (frame.type === FrameType.WELCOME) welcomed();
    else if (frame.type === FrameType.REQUEST) complete(frame.streamId, frame.json, Buffer.from(frame.body!));
    else if (frame.type === FrameType.REQUEST_HEAD && agent.refuseAtHead) {
      refused.add(frame.streamId);
      agent.requests.push({ id: frame.streamId, head: frame.json, body: Buffer.alloc(0) });
      ws.send(encodeJsonFrame(FrameType.ERROR, frame.streamId, { status: 503, message: 'Model has no ready replica right now (1 loading).', code: 'model_not_ready' }));
    } else if (refused.has(frame.streamId)) {
      if (frame.type === FrameType.REQUEST_END) refused.delete(frame.streamId); // the rest of a refused body is dropped
    } else if (frame.type === FrameType.REQUEST_HEAD) bodies.set(frame.streamId, { head: frame.json, parts: [] });
    else if (frame.type === FrameType.REQUEST_BODY) {
      const b = bodies.get(frame.streamId)!;
      const before = b.parts.reduce((n, p) => n + p.length, 0);
      b.parts.push(Buffer.from(frame.payload));
      const windows = Math.floor((before + frame.payload.byteLength) / BODY_WINDOW) - Math.floor(before / BODY_WINDOW);
      if (agent.autoCredit) for (let i = 0; i < windows; i++) ws.send(encodeFrame(FrameType.RESUME, frame.streamId));
    }
    else if (frame.type === FrameType.CANCEL) agent.cancelled.push(frame.streamId);
    else if (frame.type === FrameType.REQUEST_END) {
      const b = bodies.get(frame.streamId)!;
      bodies.delete(frame.streamId);
      complete(frame.streamId, b.head, Buffer.concat(b.parts));
    }
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(encodeJsonFrame(FrameType.HELLO, 0, { version: 1, model, engine: 'vllm', capacity, agent: `box-${agents.length}`, features: FEATURES }));
  await welcome;
  agents.push(agent);
  return agent;
}

const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] });

describe('OnPremModel: several agents', () => {
  it('a request an agent refuses before any engine saw it is retried on the next agent', async () => {
    const refusing = await fakeAgent('retry-model', 1, () => 'refuse');
    const serving = await fakeAgent('retry-model', 1, () => ({ object: 'chat.completion', from: 'second' }));
    for (let i = 0; i < 3; i++) expect(await ask('retry-model')).toMatchObject({ from: 'second' });
    expect(refusing.requests.length).toBeGreaterThan(0);
    expect(serving.requests).toHaveLength(3);
    // The retried request is the same request.
    expect(JSON.parse(serving.requests[0].body.toString())).toMatchObject({ model: 'retry-model', messages: [{ role: 'user', content: 'Hi' }] });

    // Every agent refused: the client gets the last refusal as a clean 503.
    serving.answer = () => 'refuse';
    await expect(ask('retry-model')).rejects.toMatchObject({ status: 503, code: 'model_not_ready' });
  });

  it('a body of several frames refused at its head is replayed to the next agent, byte for byte', async () => {
    const refusing = await fakeAgent('retry-big', 1, () => ({ object: 'chat.completion', from: 'first' }));
    refusing.refuseAtHead = true;
    const serving = await fakeAgent('retry-big', 1, ({ body }) => ({ object: 'chat.completion', from: 'second', bytes: body.length }));
    const content = Array.from({ length: 3 * 1024 * 1024 / 16 }, (_, i) => i.toString(16).padStart(16, '.')).join('');
    const expected = Buffer.from(JSON.stringify({ model: 'retry-big', messages: [{ role: 'user', content }] }));
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' }, body: expected });
      expect(await res.json()).toMatchObject({ from: 'second', bytes: expected.length });
    }
    expect(refusing.requests.length).toBeGreaterThan(0);
    for (const r of serving.requests) expect(r.body.equals(expected)).toBe(true);
  });

  it('agents are balanced by the capacity they report, updated after the hello', async () => {
    const a = await fakeAgent('capacity-model', 1, () => 'hold');
    const b = await fakeAgent('capacity-model', 1, () => 'hold');
    // No ready replica on a: everything goes to b.
    a.capacity(0);
    await waitFor(async () => {
      const pending = ask('capacity-model');
      await waitFor(() => a.requests.length + b.requests.length > 0 && a.held.length + b.held.length > 0, 'the request');
      a.release();
      b.release();
      await pending;
      const onB = b.requests.length === 1 && a.requests.length === 0;
      a.requests.length = b.requests.length = 0;
      return onB;
    }, 'a capacity of 0 to reach the gateway');
    for (let i = 0; i < 3; i++) {
      const pending = ask('capacity-model');
      await waitFor(() => b.held.length === 1, 'the request on b');
      b.release();
      await pending;
    }
    expect(a.requests).toHaveLength(0);

    // a grows to 3 ready replicas: of 4 requests at once, it takes 3.
    a.capacity(3);
    await new Promise((r) => setTimeout(r, 50)); // frames on one socket arrive in order; this one is on another socket
    const pending = Array.from({ length: 4 }, () => ask('capacity-model'));
    await waitFor(() => a.held.length + b.held.length === 4, 'all 4 requests at the agents');
    expect([a.held.length, b.held.length]).toEqual([3, 1]);
    a.release();
    b.release();
    await Promise.all(pending);
  });
});

describe('on-prem bodies stream through the gateway unparsed', () => {
  const echo: Answer = ({ body }) => ({ object: 'chat.completion', bytes: body.length, json: (() => {
    try {
      return JSON.parse(body.toString()) && true;
    } catch {
      return false;
    }
  })() });

  it('a body of several frames arrives whole; one over the limit is a 413 and the agent drops it', async () => {
    const agent = await fakeAgent('body-model', 1, echo);
    const text = 'x'.repeat(MAX_BODY_BYTES - 200);
    const body = JSON.stringify({ model: 'body-model', messages: [{ role: 'user', content: text }] });
    expect(await client.chat.completions.create({ model: 'body-model', messages: [{ role: 'user', content: text }] })).toMatchObject({ bytes: body.length, json: true });
    expect(agent.requests[0].head).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });

    // Without content-length (a chunked upload), the limit is enforced as the body streams.
    const over = 'y'.repeat(MAX_BODY_BYTES);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(JSON.stringify({ model: 'body-model', messages: [{ role: 'user', content: over }] }));
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024));
        controller.close();
      },
    });
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    assertErrorResponse(await response.json());
    // The agent had the start of it, never its end, and is told to drop it.
    await waitFor(() => agent.cancelled.length === 1, 'the CANCEL');
    expect(agent.requests).toHaveLength(1);
  });

  it('an agent whose engine reads slowly holds the body back: at most two windows ahead of its credits (RESUME)', async () => {
    const agent = await fakeAgent('paced-model', 1, ({ body }) => ({ object: 'chat.completion', bytes: body.length }));
    agent.autoCredit = false;
    let received = 0;
    let streamId = 0;
    agent.ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      if (frame.type !== FrameType.REQUEST_BODY) return;
      received += frame.payload.byteLength;
      streamId = frame.streamId;
    });
    const content = 'p'.repeat(MAX_BODY_BYTES - 200);
    const size = JSON.stringify({ model: 'paced-model', messages: [{ role: 'user', content }] }).length;
    const pending = client.chat.completions.create({ model: 'paced-model', messages: [{ role: 'user', content }] });
    await waitFor(() => received >= 2 * BODY_WINDOW, 'two windows');
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toBe(2 * BODY_WINDOW); // no credit, no more
    agent.ws.send(encodeFrame(FrameType.RESUME, streamId));
    await waitFor(() => received >= 3 * BODY_WINDOW, 'one more window');
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toBe(3 * BODY_WINDOW);
    agent.autoCredit = true;
    for (let i = 0; i < Math.ceil(size / BODY_WINDOW); i++) agent.ws.send(encodeFrame(FrameType.RESUME, streamId));
    expect(await pending).toMatchObject({ bytes: size });
  });

  it('an alias reaches the engine under the name it serves: the model value is replaced in the streamed body', async () => {
    const agent = await fakeAgent('alias-target', 1, ({ body }) => ({ object: 'chat.completion', seen: JSON.parse(body.toString()) }));
    const answer: any = await client.chat.completions.create({ model: 'qwen-alias', messages: [{ role: 'user', content: 'Hi' }], top_k: 3 } as any);
    expect(answer.seen).toEqual({ model: 'alias-target', messages: [{ role: 'user', content: 'Hi' }], top_k: 3 });
    expect(agent.requests).toHaveLength(1);
  });

  it('a malformed body for an on-prem model with no agent online is a 400, as for any model', async () => {
    await fakeAgent('offline-model', 1, echo).then((a) => a.ws.close());
    await waitFor(async () => !(await client.models.list()).data.some((m) => m.id === 'offline-model'), 'the model offline');
    for (const body of ['{"model":"offline-model","messages":[', '{"model":"offline-model","messages":"hi"}']) {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' }, body });
      expect(response.status).toBe(400);
      assertErrorResponse(await response.json());
    }
    await expect(ask('offline-model')).rejects.toMatchObject({ status: 503, message: expect.stringContaining('has no agent online') });
  });

  it('a large body for a name never registered: the upload is read to its end and the client gets the 404, not a reset', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'never-registered', messages: [{ role: 'user', content: 'q'.repeat(3 * 1024 * 1024) }] }),
      });
      expect(response.status).toBe(404);
      assertErrorResponse(await response.json());
    }
  });
});

describe('flow control toward a slow client', () => {
  it('a client that does not read makes the gateway PAUSE the agent; reading on RESUMEs it; every byte arrives', async () => {
    const event = Buffer.from(`data: ${'z'.repeat(64 * 1024 - 8)}\n\n`);
    const total = 64 * 1024 * 1024;
    let sent = 0;
    let paused = false;
    const frames: string[] = [];
    const agent = await fakeAgent('slow-client-model', 1, ({ id }) => {
      agent.ws.send(encodeJsonFrame(FrameType.RESPONSE_HEAD, id, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
      // As an engine writes: an event at a time, as fast as the socket takes them.
      const pump = () => {
        if (paused) return;
        if (sent >= total) return void agent.ws.send(encodeFrame(FrameType.RESPONSE_END, id));
        agent.ws.send(encodeFrame(FrameType.RESPONSE_BODY, id, event));
        sent += event.length;
        if (agent.ws.bufferedAmount > 256 * 1024) setTimeout(pump, 1);
        else setImmediate(pump);
      };
      agent.ws.on('message', (data: Buffer) => {
        const frame = decodeFrame(data);
        if (frame.type === FrameType.PAUSE) paused = true;
        if (frame.type === FrameType.RESUME) {
          paused = false;
          setImmediate(pump);
        }
        if (frame.type === FrameType.PAUSE || frame.type === FrameType.RESUME) frames.push(frame.name);
      });
      setImmediate(pump);
      return 'hold';
    });
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow-client-model', messages: [{ role: 'user', content: 'a long answer' }], stream: true }),
    });
    expect(response.status).toBe(200);
    await waitFor(() => paused, 'a PAUSE while the client reads nothing');
    // The client's own socket buffers take a little more (each time: RESUME, PAUSE), then nothing moves.
    let last = -1;
    await waitFor(async () => {
      const settled = paused && sent === last;
      last = sent;
      await new Promise((r) => setTimeout(r, 300));
      return settled && paused && sent === last;
    }, 'the sending to stop');
    expect(sent).toBeLessThan(total / 2);
    let received = 0;
    for await (const chunk of response.body as any as AsyncIterable<Uint8Array>) received += chunk.byteLength;
    expect(received).toBe(total);
    expect(frames).toContain('RESUME');
  }, 60_000);
});
