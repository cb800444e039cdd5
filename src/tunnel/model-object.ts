import { BODY_WINDOW, FEATURES, FrameType, HEADER_BYTES, HEARTBEAT_PING, HEARTBEAT_PONG, MAX_CHUNK, ProtocolError, decodeFrame, encodeFrame, encodeJsonFrame, encodeWholeFrame, parseHello, writeFrameHeader, type Frame, type Hello } from './protocol';
import { DurableObject as DurableObjectBase } from 'cloudflare:workers';
import { AGENT_TOKEN_HEADER, INCLUDE_USAGE_HEADER, MODEL_HEADER, REGISTRY, TUNNEL_ERROR_HEADER, agentIdleTimeoutMs, type TunnelAnswer, type TunnelEnv } from './tunnel-names';

// One Durable Object per on-prem model name. Agents serving that model hold a WebSocket
// to it; the gateway sends each request here (RPC call(): a body the gateway holds whole,
// the common case, with no Request or Response built on either side; POST /forward: the
// client's body streamed unparsed from providers/onprem/pass-through.ts, or the onprem
// provider's), and it goes
// to the agent with the lowest in-flight load for its capacity (ready replicas, updated by
// CAPACITY frames), multiplexed as frames; a refusal before any engine saw it goes to the
// next agent. Response bytes are enqueued the moment they arrive, with flow control both
// ways for agents that offer it. The instance named REGISTRY keeps the list of model
// names ever registered and which are online.

// The names shared with the Worker's other modules live in tunnel-names.ts, which Node
// (unit tests) can import: this module imports the runtime's cloudflare:workers.
export * from './tunnel-names';

interface PendingStream {
  agent: AgentConnection;
  resolveHead: (answer: TunnelAnswer) => void;
  /** call()'s cancel token, removed with the stream. */
  token?: string;
  controller: ReadableStreamDefaultController<Uint8Array> | null;
  headSent: boolean;
  path: string;
  /** The gateway counts this request's tokens (INCLUDE_USAGE_HEADER). */
  usage: boolean;
  /** A body that fits one frame, kept until the answer begins so that a refusal can be retried on another agent. */
  body: Uint8Array | null;
  /**
   * A larger body's REQUEST_BODY frames sent so far, kept for the same reason while they fit
   * REPLAY_LIMIT (null: too much to hold, or not kept): an agent refuses at the head, before
   * it grants any credit, so an agent with "flow" has at most two windows of it by then.
   */
  sent?: Uint8Array[] | null;
  sentBytes?: number;
  /** REQUEST_END was sent (a replay ends the body too). */
  bodyDone?: boolean;
  /** Agents this request was sent to. */
  tried: Set<AgentConnection>;
  /** The agent was told to stop reading the engine's response (PAUSE) until the client catches up. */
  paused?: boolean;
  /** Request body bytes sent that the agent has not yet granted credit for (agents that offer "flow"). */
  unacked?: number;
  /** Waiting for the agent's next credit (RESUME) before sending more of the body. */
  bodyHold?: { promise: Promise<void>; resume: () => void } | null;
}

/** Body bytes kept per streamed request for a retry on another agent: the two windows an agent with "flow" can have before its first credit, and as much again. */
const REPLAY_LIMIT = 4 * BODY_WINDOW;
/** Body bytes kept for retries across all requests of one Durable Object (its memory is 128 MB); beyond it, a refused large body is not retried. */
const REPLAY_TOTAL = 32 * 1024 * 1024;

/** Response bytes a Durable Object queues per stream for a slow client before it asks the agent to pause (agents that offer "flow"). */
const FLOW_HIGH_WATER = 1024 * 1024;

/** Agent errors that mean no engine saw the request (no ready replica; every replica refused the connection): safe to retry elsewhere. */
const REFUSED_BEFORE_START = new Set(['model_not_ready', 'replicas_unavailable']);
const HOP_HEADERS = ['content-length', 'connection', 'keep-alive', 'transfer-encoding'];

interface AgentConnection {
  ws: WebSocket;
  hello: Hello | null;
  inFlight: number;
  lastSeen: number;
  /** Stored agent token it connected with, so revoking the token closes this socket. */
  tokenId: string | null;
}

/** What a socket keeps of its agent while the object hibernates (WebSocket attachment; the rest is rebuilt). */
interface AgentAttachment {
  hello: Hello | null;
  tokenId: string | null;
  /** Last heartbeat seen as a frame (agents without the "heartbeat" feature). */
  lastSeen: number;
}

function openAIError(status: number, message: string, code: string, type = status >= 500 ? 'upstream_error' : 'invalid_request_error'): TunnelAnswer {
  // Marked, so the provider reports the gateway's own verdict (offline, unknown) as is, apart from engine errors.
  return { status, headers: { 'content-type': 'application/json', [TUNNEL_ERROR_HEADER]: '1' }, body: utf8.encode(JSON.stringify({ error: { message, type, param: null, code } })) };
}

function toResponse(answer: TunnelAnswer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}

const utf8 = new TextEncoder();

export class OnPremModel extends DurableObjectBase<TunnelEnv> {
  /** Connected agents, by their socket. */
  private agents = new Map<WebSocket, AgentConnection>();
  private streams = new Map<number, PendingStream>();
  private nextStreamId = 1;
  /** Body bytes held for retries (PendingStream.sent), over all streams. */
  private heldBytes = 0;
  private model: string | null = null;
  /** When the heartbeat sweep's alarm is due, as far as this instance set it (lost with hibernation: then set anew). */
  private sweepAt = 0;
  /** call()'s cancel tokens → stream ids. */
  private calls = new Map<string, number>();

  /**
   * Agents' sockets are hibernatable: between requests an idle object may leave memory while
   * they stay connected (its heartbeats answered by the runtime, HEARTBEAT_PING → PONG), and
   * wakes with each socket's agent rebuilt from its attachment.
   */
  constructor(ctx: DurableObjectState, env: TunnelEnv) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
    for (const ws of ctx.getWebSockets()) this.connectionOf(ws);
  }

  /**
   * RPC from the gateway's Worker: a request body held whole, sent to an agent; resolves
   * with the answer's head and body. `token` names the request for cancel().
   */
  async call(body: Uint8Array, model: string, usage: boolean, token: string): Promise<TunnelAnswer> {
    this.model ??= model;
    const agent = this.pick();
    if (!agent) return this.offline();
    const { id, head } = this.open(agent, '/v1/chat/completions', usage);
    const stream = this.streams.get(id)!;
    stream.token = token;
    this.calls.set(token, id);
    stream.body = body;
    this.sendRequest(id, stream);
    return head;
  }

  /** RPC: the client of call(token) went away (a stub call cannot carry its request's signal). */
  cancelCall(token: string): void {
    const id = this.calls.get(token);
    if (id !== undefined) this.cancel(id);
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    this.model ??= request.headers.get(MODEL_HEADER);
    switch (url.pathname) {
      case '/connect':
        return this.acceptAgent(request);
      case '/forward':
        return toResponse(await this.forward(request));
      case '/registry/set':
        return this.registrySet(request);
      case '/registry/list':
        return Response.json(await this.registryList());
      case '/registry/known':
        return Response.json({ known: (await this.ctx.storage.get<boolean>(`model:${url.searchParams.get('model')}`)) !== undefined });
      case '/revoke-token':
        return Response.json({ closed: this.closeAgentsOfToken(url.searchParams.get('token_id')) });
      default:
        return toResponse(openAIError(404, `Unknown tunnel endpoint ${url.pathname}`, 'unknown_url'));
    }
  }

  // ---- agents ------------------------------------------------------------

  private acceptAgent(request: Request): Response {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return toResponse(openAIError(426, 'Expected a WebSocket upgrade.', 'upgrade_required'));
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const agent: AgentConnection = { ws: server, hello: null, inFlight: 0, lastSeen: Date.now(), tokenId: request.headers.get(AGENT_TOKEN_HEADER) };
    this.agents.set(server, agent);
    this.remember(agent);
    this.armSweep(agent.lastSeen + agentIdleTimeoutMs(this.env));
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const agent = this.connectionOf(ws);
    if (agent) this.onMessage(agent, message);
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    // Complete the closing handshake, or the agent waits for it.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closed');
    } catch {
      // already closed
    }
    const agent = this.agents.get(ws);
    if (agent) this.drop(agent, 'the agent disconnected');
  }

  override webSocketError(ws: WebSocket): void {
    const agent = this.agents.get(ws);
    if (agent) this.drop(agent, 'the agent connection failed');
  }

  /** The agent of a socket, rebuilt from its attachment after hibernation (in flight: none, as the object was idle). */
  private connectionOf(ws: WebSocket): AgentConnection | null {
    const known = this.agents.get(ws);
    if (known) return known;
    const saved = ws.deserializeAttachment() as AgentAttachment | null;
    if (!saved) return null;
    const agent: AgentConnection = { ws, hello: saved.hello, inFlight: 0, lastSeen: saved.lastSeen, tokenId: saved.tokenId };
    this.agents.set(ws, agent);
    if (saved.hello) this.model ??= saved.hello.model;
    return agent;
  }

  /** Keeps what the agent's socket must survive hibernation with. */
  private remember(agent: AgentConnection): void {
    const attachment: AgentAttachment = { hello: agent.hello, tokenId: agent.tokenId, lastSeen: agent.lastSeen };
    try {
      agent.ws.serializeAttachment(attachment);
    } catch {
      // closed meanwhile
    }
  }

  /** A revoked agent token: its agents' sockets close now (1008, policy); their requests in flight end with a clean error. */
  private closeAgentsOfToken(tokenId: string | null): number {
    if (!tokenId) return 0;
    const revoked = [...this.agents.values()].filter((a) => a.tokenId === tokenId);
    for (const agent of revoked) this.close(agent, 1008, 'agent token revoked');
    return revoked.length;
  }

  private onMessage(agent: AgentConnection, data: string | ArrayBuffer): void {
    agent.lastSeen = Date.now();
    let frame: Frame;
    try {
      if (typeof data === 'string') throw new ProtocolError('text message: frames are binary');
      frame = decodeFrame(data);
      if (!agent.hello && frame.type !== FrameType.HELLO) throw new ProtocolError(`${frame.name} before HELLO`);
    } catch (error) {
      // A broken frame ends that agent's connection; other agents and requests are untouched.
      this.send(agent, encodeJsonFrame(FrameType.ERROR, 0, { status: 400, message: (error as Error).message, code: 'protocol_error' }));
      this.close(agent, 1002, 'protocol error');
      return;
    }
    switch (frame.type) {
      case FrameType.HELLO: {
        try {
          const hello = parseHello(frame.json);
          if (this.model && hello.model !== this.model) throw new ProtocolError(`hello.model "${hello.model}" does not match this connection's model "${this.model}"`);
          agent.hello = hello;
          this.remember(agent);
        } catch (error) {
          this.send(agent, encodeJsonFrame(FrameType.ERROR, 0, { status: 400, message: (error as Error).message, code: 'protocol_error' }));
          this.close(agent, 1002, 'bad hello');
          return;
        }
        this.send(agent, encodeJsonFrame(FrameType.WELCOME, 0, { version: 1, features: FEATURES }));
        this.report().catch(() => {}); // the registry is advisory (listing, 404 vs 503); the socket works without it
        return;
      }
      case FrameType.PING:
        // An agent without the "heartbeat" feature: its last heartbeat must outlive hibernation for the sweep.
        this.remember(agent);
        this.send(agent, encodeFrame(FrameType.PONG, 0, frame.payload));
        return;
      case FrameType.PONG:
        return;
      case FrameType.CAPACITY: {
        // Replicas became ready or died: balance by what the agent can serve now.
        const capacity = frame.json.capacity;
        if (!Number.isInteger(capacity) || capacity < 0) {
          this.send(agent, encodeJsonFrame(FrameType.ERROR, 0, { status: 400, message: 'CAPACITY.capacity must be an integer ≥ 0', code: 'protocol_error' }));
          this.close(agent, 1002, 'protocol error');
          return;
        }
        agent.hello!.capacity = capacity;
        this.remember(agent);
        this.report().catch(() => {});
        return;
      }
      case FrameType.RESUME: {
        // From an agent: a window of this stream's request body reached its engine; send on.
        const stream = this.streams.get(frame.streamId);
        if (stream?.agent !== agent) return;
        stream.unacked = Math.max(0, (stream.unacked ?? 0) - BODY_WINDOW);
        stream.bodyHold?.resume();
        stream.bodyHold = null;
        return;
      }
      case FrameType.RESPONSE: {
        const stream = this.streams.get(frame.streamId);
        if (stream?.agent !== agent || stream.headSent) return;
        stream.headSent = true;
        this.finish(frame.streamId);
        stream.resolveHead(answerOf(frame.json, frame.body!.byteLength ? frame.body! : null));
        return;
      }
      case FrameType.RESPONSE_HEAD:
        return this.onResponseHead(agent, frame);
      case FrameType.RESPONSE_BODY: {
        const stream = this.streams.get(frame.streamId);
        if (stream?.agent !== agent || !stream.controller) return;
        // A view of the message's own buffer (each WebSocket message has a fresh one): no copy.
        stream.controller.enqueue(frame.payload);
        // The client reads slower than the engine writes: the agent stops reading from the engine until it catches up.
        if ((stream.controller.desiredSize ?? 1) <= 0 && !stream.paused && agent.hello!.features.includes('flow')) {
          stream.paused = true;
          this.send(agent, encodeFrame(FrameType.PAUSE, frame.streamId));
        }
        return;
      }
      case FrameType.RESPONSE_END: {
        const stream = this.streams.get(frame.streamId);
        if (stream?.agent !== agent) return;
        this.finish(frame.streamId);
        try {
          stream.controller?.close();
        } catch {
          // the client already cancelled
        }
        return;
      }
      case FrameType.ERROR: {
        if (frame.streamId === 0) return;
        const stream = this.streams.get(frame.streamId);
        if (stream?.agent !== agent) return;
        if (!stream.headSent && (stream.body || stream.sent) && REFUSED_BEFORE_START.has(frame.json.code) && this.retry(frame.streamId, stream)) return;
        this.finish(frame.streamId);
        const status = Number.isInteger(frame.json.status) ? frame.json.status : 502;
        const message = `The on-prem model's agent reported: ${String(frame.json.message ?? 'an error')}`;
        if (!stream.headSent) stream.resolveHead(openAIError(status, message, String(frame.json.code ?? 'agent_error')));
        else stream.controller?.error(new Error(message));
        return;
      }
      default:
        this.send(agent, encodeJsonFrame(FrameType.ERROR, 0, { status: 400, message: `${frame.name} is not sent by agents`, code: 'protocol_error' }));
        this.close(agent, 1002, 'protocol error');
    }
  }

  private onResponseHead(agent: AgentConnection, frame: Frame): void {
    const stream = this.streams.get(frame.streamId);
    if (stream?.agent !== agent || stream.headSent) return;
    stream.headSent = true;
    stream.body = null;
    this.releaseHeld(stream);
    const id = frame.streamId;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          stream.controller = controller;
        },
        // Called once the queue is below its high-water mark again.
        pull: () => {
          if (!stream.paused || this.streams.get(id) !== stream) return;
          stream.paused = false;
          this.send(stream.agent, encodeFrame(FrameType.RESUME, id));
        },
        cancel: () => this.cancel(id),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: FLOW_HIGH_WATER }),
    );
    stream.resolveHead(answerOf(frame.json, body));
  }

  /** A refused request goes to the next agent that has not seen it (false: none left). */
  private retry(id: number, stream: PendingStream): boolean {
    const next = this.pick(stream.tried);
    if (!next) return false;
    stream.agent.inFlight--;
    stream.agent = next;
    next.inFlight++;
    stream.tried.add(next);
    if (stream.sent) this.replay(id, stream);
    else this.sendRequest(id, stream);
    return true;
  }

  /** A streamed body to the next agent: its head, the frames sent so far, its end if it came; the rest follows as it is read. */
  private replay(id: number, stream: PendingStream): void {
    this.send(stream.agent, encodeJsonFrame(FrameType.REQUEST_HEAD, id, requestHead(stream.path, stream.usage)));
    for (const frame of stream.sent!) this.send(stream.agent, frame);
    if (stream.bodyDone) this.send(stream.agent, encodeFrame(FrameType.REQUEST_END, id));
    // Credits start over with this agent; a read waiting for the last agent's credit checks again.
    stream.unacked = stream.sentBytes ?? 0;
    stream.bodyHold?.resume();
    stream.bodyHold = null;
  }

  /** Drops the body frames kept for a retry. */
  private releaseHeld(stream: PendingStream): void {
    if (!stream.sent) return;
    this.heldBytes -= stream.sentBytes ?? 0;
    stream.sent = null;
  }

  /** The client went away: tell the agent, which aborts the engine request (frees the GPU). */
  private cancel(id: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.finish(id);
    this.send(stream.agent, encodeFrame(FrameType.CANCEL, id));
    if (!stream.headSent) stream.resolveHead(openAIError(499, 'The client closed the request.', 'client_closed'));
    else {
      try {
        stream.controller?.close();
      } catch {
        // already cancelled
      }
    }
  }

  private finish(id: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.streams.delete(id);
    if (stream.token) this.calls.delete(stream.token);
    stream.agent.inFlight--;
    this.releaseHeld(stream);
    stream.bodyHold?.resume(); // a body held for the agent is dropped, not left waiting
  }

  private drop(agent: AgentConnection, why: string): void {
    if (!this.agents.delete(agent.ws)) return;
    // Requests in flight on this socket end with a clean error, not a hang.
    for (const [id, stream] of this.streams) {
      if (stream.agent !== agent) continue;
      this.finish(id);
      if (!stream.headSent) stream.resolveHead(openAIError(502, `The on-prem model "${this.model}" could not answer: ${why} before responding.`, 'agent_disconnected'));
      else stream.controller?.error(new Error(`${why} mid-response`));
    }
    this.report().catch(() => {});
  }

  private close(agent: AgentConnection, code: number, reason: string): void {
    try {
      agent.ws.close(code, reason);
    } catch {
      // already closed
    }
    this.drop(agent, 'the agent connection was closed');
  }

  private send(agent: AgentConnection, frame: Uint8Array): void {
    try {
      agent.ws.send(frame);
    } catch {
      this.drop(agent, 'the agent connection failed');
    }
  }

  /**
   * Heartbeats: the agent pings; a socket silent for longer than the idle limit is dead and
   * closed. The sweep is an alarm due at the earliest such deadline (an interval would keep
   * the object from hibernating). An agent with the "heartbeat" feature is answered by the
   * runtime, which records when.
   */
  private lastHeard(agent: AgentConnection): number {
    let answered: Date | null = null;
    try {
      answered = this.ctx.getWebSocketAutoResponseTimestamp(agent.ws);
    } catch {
      // closed
    }
    return Math.max(agent.lastSeen, answered?.getTime() ?? 0);
  }

  /** Makes the sweep due by `at`: an alarm already due sooner stays (after hibernation, asked of storage). */
  private armSweep(at: number): void {
    void (async () => {
      this.sweepAt ||= (await this.ctx.storage.getAlarm()) ?? 0;
      if (this.sweepAt > Date.now() && this.sweepAt <= at) return;
      this.sweepAt = at;
      await this.ctx.storage.setAlarm(at);
    })().catch(() => {});
  }

  override async alarm(): Promise<void> {
    this.sweepAt = 0;
    const now = Date.now();
    const idle = agentIdleTimeoutMs(this.env);
    let next = Infinity;
    for (const agent of [...this.agents.values()]) {
      const deadline = this.lastHeard(agent) + idle;
      if (deadline <= now) this.close(agent, 1001, 'no heartbeat');
      else next = Math.min(next, deadline);
    }
    if (next < Infinity) this.armSweep(next);
  }

  private online(): AgentConnection[] {
    return [...this.agents.values()].filter((a) => a.hello);
  }

  private async report(): Promise<void> {
    if (!this.model) return;
    const online = this.online();
    const registry = this.registryStub();
    const capacity = online.reduce((n, a) => n + (a.hello?.capacity ?? 0), 0);
    await registry.fetch('https://onprem/registry/set', {
      method: 'POST',
      body: JSON.stringify({ model: this.model, online: online.length > 0, agents: online.length, capacity, engine: online[0]?.hello?.engine ?? null }),
    });
  }

  // ---- requests ----------------------------------------------------------

  /**
   * The agent with the lowest in-flight load for its capacity (ready replicas). An agent
   * with none ready is chosen only when no other is left: it answers why it cannot serve.
   */
  private pick(exclude?: Set<AgentConnection>): AgentConnection | null {
    let best: AgentConnection | null = null;
    let bestLoad = Infinity;
    for (const a of this.agents.values()) {
      if (!a.hello || exclude?.has(a)) continue;
      const load = a.hello.capacity > 0 ? a.inFlight / a.hello.capacity : Number.MAX_SAFE_INTEGER + a.inFlight;
      if (!best || load < bestLoad) {
        best = a;
        bestLoad = load;
      }
    }
    return best;
  }

  /** No agent to send to: 503 when the model was registered once (offline now), else 404. */
  private async offline(): Promise<TunnelAnswer> {
    const known = await this.registryKnown();
    return known
      ? openAIError(503, `The on-prem model "${this.model}" has no agent online right now; start its agent (switchboard-agent) or try again later.`, 'model_offline')
      : openAIError(404, `The model '${this.model}' does not exist or is not configured on this gateway. GET /v1/models lists the models you can use.`, 'model_not_found', 'invalid_request_error');
  }

  /** A new stream to `agent`; `head` resolves with its answer. */
  private open(agent: AgentConnection, path: string, usage: boolean): { id: number; head: Promise<TunnelAnswer> } {
    const id = this.nextStreamId++;
    if (this.nextStreamId > 0xfffffff0) this.nextStreamId = 1;
    agent.inFlight++;
    const head = new Promise<TunnelAnswer>((resolveHead) =>
      this.streams.set(id, { agent, resolveHead, controller: null, headSent: false, path, usage, body: null, tried: new Set([agent]) }),
    );
    return { id, head };
  }

  private async forward(request: Request): Promise<TunnelAnswer> {
    const agent = this.pick();
    if (!agent) {
      // Read the upload to its end first: answering while the client still sends resets its connection.
      await discard(request.body);
      return this.offline();
    }
    const path = request.headers.get('x-switchboard-path') ?? '/v1/chat/completions';
    const usage = request.headers.has(INCLUDE_USAGE_HEADER);
    const { id, head } = this.open(agent, path, usage);
    // The client going away aborts this request's signal (compatibility flag
    // enable_request_signal); cancelling the response body does not reach a Durable Object.
    request.signal?.addEventListener('abort', () => this.cancel(id));
    const declared = Number(request.headers.get('content-length'));
    if (declared > 0 && declared <= MAX_CHUNK) void this.sendWholeBody(id, request);
    else {
      this.streams.get(id)!.sent = [];
      this.send(agent, encodeJsonFrame(FrameType.REQUEST_HEAD, id, requestHead(path, usage)));
      void this.sendBody(id, request.body);
    }
    return head;
  }

  /** A held body to its stream's agent: one REQUEST frame where the agent takes it, else head, body and end. */
  private sendRequest(id: number, stream: PendingStream): void {
    const body = stream.body ?? new Uint8Array(0);
    const whole = stream.agent.hello?.features.includes('whole') ? encodeWholeFrame(FrameType.REQUEST, id, encodedRequestHead(stream.path, stream.usage), body) : null;
    if (whole) return this.send(stream.agent, whole);
    this.send(stream.agent, encodeJsonFrame(FrameType.REQUEST_HEAD, id, requestHead(stream.path, stream.usage)));
    if (body.byteLength) this.send(stream.agent, encodeFrame(FrameType.REQUEST_BODY, id, body));
    this.send(stream.agent, encodeFrame(FrameType.REQUEST_END, id));
  }

  /** A body that fits one frame, read in one go (a loop of small reads costs more than the bytes). */
  private async sendWholeBody(id: number, request: Request): Promise<void> {
    let body: Uint8Array;
    try {
      body = new Uint8Array(await request.arrayBuffer());
    } catch {
      return this.bodyFailed(id);
    }
    const stream = this.streams.get(id);
    if (!stream) return;
    stream.body = body;
    this.sendRequest(id, stream);
  }

  /** The gateway could not read the body (it went over the size limit, or the client went away): the agent drops the request. */
  private bodyFailed(id: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.finish(id);
    this.send(stream.agent, encodeFrame(FrameType.CANCEL, id));
    if (!stream.headSent) stream.resolveHead(openAIError(400, 'The request body could not be read to its end.', 'body_unreadable'));
    else stream.controller?.error(new Error('the request body could not be read'));
  }

  /**
   * The request body as it is read, never held whole, in frames of MAX_CHUNK: the engine
   * can use the body only once it is complete, and every frame costs a WebSocket message.
   */
  private async sendBody(id: number, body: ReadableStream<Uint8Array> | null): Promise<void> {
    if (body) {
      // A BYOB reader fills a whole frame per read (readAtLeast), where plain reads come ≈ 4 KiB at a time.
      const reader = body.getReader({ mode: 'byob' });
      // The stream's agent, not one fixed here: a refusal moves the request to another agent (retry).
      const flow = (stream: PendingStream) => stream.agent.hello!.features.includes('flow');
      for (;;) {
        const stream = this.streams.get(id);
        // At most two windows ahead of what the agent's engine has taken.
        while (stream && this.streams.has(id) && flow(stream) && (stream.unacked ?? 0) >= 2 * BODY_WINDOW) {
          let resume!: () => void;
          const promise = new Promise<void>((r) => (resume = r));
          stream.bodyHold = { promise, resume };
          await promise;
        }
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          // Read straight into a frame, after room for its header: sent without a copy.
          // A fresh buffer per read: WebSocket.send may still be using the last one (reusing it corrupted bodies).
          next = await reader.readAtLeast(MAX_CHUNK, new Uint8Array(HEADER_BYTES + MAX_CHUNK).subarray(HEADER_BYTES));
        } catch {
          return this.bodyFailed(id);
        }
        if (!this.streams.has(id)) {
          // Answered already (an error, or the client went away): read the rest of the upload so the client sees the answer.
          if (!next.done) await discardReader(reader);
          return;
        }
        if (next.value?.byteLength && stream) {
          const { buffer, byteOffset, byteLength } = next.value;
          const frame = writeFrameHeader(new Uint8Array(buffer, byteOffset - HEADER_BYTES, HEADER_BYTES + byteLength), FrameType.REQUEST_BODY, id);
          this.send(stream.agent, frame);
          stream.unacked = (stream.unacked ?? 0) + byteLength;
          this.hold(stream, frame, byteLength);
        }
        if (next.done) break;
      }
    }
    const stream = this.streams.get(id);
    if (stream) {
      stream.bodyDone = true;
      this.send(stream.agent, encodeFrame(FrameType.REQUEST_END, id));
    }
  }

  /** Keeps a sent body frame for a retry while the stream's and the object's limits allow (the frame itself: no copy). */
  private hold(stream: PendingStream, frame: Uint8Array, bytes: number): void {
    if (!stream.sent) return;
    const sentBytes = (stream.sentBytes ?? 0) + bytes;
    if (sentBytes > REPLAY_LIMIT || this.heldBytes + bytes > REPLAY_TOTAL) return this.releaseHeld(stream);
    stream.sent.push(frame);
    stream.sentBytes = sentBytes;
    this.heldBytes += bytes;
  }


  // ---- registry (the REGISTRY instance) -----------------------------------

  private async registrySet(request: Request): Promise<Response> {
    const entry = (await request.json()) as { model: string; online: boolean; agents: number; capacity: number; engine: string | null };
    await this.ctx.storage.put(`model:${entry.model}`, entry);
    return new Response(null, { status: 204 });
  }

  private async registryList() {
    const entries = await this.ctx.storage.list<{ model: string; online: boolean; agents: number; capacity: number; engine: string | null }>({ prefix: 'model:' });
    return [...entries.values()];
  }

  /** The registry instance; the binding exists wherever this class runs (it is that binding's class). */
  private registryStub(): DurableObjectStub {
    const namespace = this.env.ONPREM_MODELS!;
    return namespace.get(namespace.idFromName(REGISTRY));
  }

  private async registryKnown(): Promise<boolean> {
    const registry = this.registryStub();
    // URLSearchParams, not encodeURIComponent: a name with a lone surrogate (call() takes it as sent) is looked up, not thrown on.
    const url = new URL('https://onprem/registry/known');
    url.searchParams.set('model', this.model ?? '');
    const res = await registry.fetch(url);
    return ((await res.json()) as { known: boolean }).known;
  }
}

/** A request's head; `usage`: the agent asks a stream for its usage chunk (older agents ignore it). */
function requestHead(path: string, usage: boolean) {
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, ...(usage ? { usage: true } : {}) };
}

/** requestHead's JSON, encoded once (the same few bytes for every request). */
const encodedHeads = new Map<string, Uint8Array>();
function encodedRequestHead(path: string, usage: boolean): Uint8Array {
  const key = `${usage ? 1 : 0}${path}`;
  let head = encodedHeads.get(key);
  if (!head) {
    head = new TextEncoder().encode(JSON.stringify(requestHead(path, usage)));
    if (encodedHeads.size < 16) encodedHeads.set(key, head);
  }
  return head;
}

/** The engine's response as the agent described it (hop-by-hop headers dropped; a status no Response takes is a 502). */
function answerOf(head: { status?: unknown; headers?: unknown }, body: Uint8Array | ReadableStream<Uint8Array> | null): TunnelAnswer {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((head.headers ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string' && !HOP_HEADERS.includes(k.toLowerCase())) headers[k.toLowerCase()] = v;
  }
  const status = Number(head.status);
  const valid = Number.isInteger(status) && status >= 200 && status <= 599;
  return { status: valid ? status : 502, headers, body: valid && status !== 204 && status !== 304 ? body : null };
}

/** Reads a body to its end without keeping it. */
async function discard(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body) await discardReader(body.getReader({ mode: 'byob' }));
}

async function discardReader(reader: ReadableStreamBYOBReader): Promise<void> {
  let buffer = new Uint8Array(MAX_CHUNK);
  try {
    for (;;) {
      const { value, done } = await reader.readAtLeast(MAX_CHUNK, buffer);
      if (done || !value) return;
      buffer = new Uint8Array(value.buffer); // the read transferred the buffer: reuse it
    }
  } catch {
    // the client went away
  }
}
