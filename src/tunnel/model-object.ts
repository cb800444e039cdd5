import { FrameType, MAX_CHUNK, ProtocolError, decodeFrame, encodeFrame, encodeJsonFrame, parseHello, type Frame, type Hello } from './protocol';
import type { Env } from '../env';

// One Durable Object per on-prem model name. Agents serving that model hold a WebSocket
// to it; the gateway's onprem provider sends each request here (POST /forward), and it
// goes to the agent with the lowest in-flight load for its capacity, multiplexed as
// frames. Response bytes are enqueued the moment they arrive. The instance named
// REGISTRY keeps the list of model names ever registered and which are online.

/** The bindings the tunnel reads (src/env.ts): the Durable Object namespace, agent tokens, idle timeout. */
export type TunnelEnv = Pick<Env, 'ONPREM_MODELS' | 'AGENT_TOKENS' | 'AGENT_IDLE_TIMEOUT_MS'>;

export const REGISTRY = '__registry__';
export const MODEL_HEADER = 'x-switchboard-onprem-model';
export const TUNNEL_ERROR_HEADER = 'x-switchboard-tunnel-error';

interface PendingStream {
  agent: AgentConnection;
  resolveHead: (response: Response) => void;
  controller: ReadableStreamDefaultController<Uint8Array> | null;
  headSent: boolean;
}

interface AgentConnection {
  ws: WebSocket;
  hello: Hello | null;
  inFlight: number;
  lastSeen: number;
}

function openAIError(status: number, message: string, code: string, type = status >= 500 ? 'upstream_error' : 'invalid_request_error'): Response {
  // Marked, so the provider reports the gateway's own verdict (offline, unknown) as is, apart from engine errors.
  return new Response(JSON.stringify({ error: { message, type, param: null, code } }), { status, headers: { 'content-type': 'application/json', [TUNNEL_ERROR_HEADER]: '1' } });
}

export class OnPremModel implements DurableObject {
  private agents = new Set<AgentConnection>();
  private streams = new Map<number, PendingStream>();
  private nextStreamId = 1;
  private model: string | null = null;
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: TunnelEnv,
  ) {}

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    this.model ??= request.headers.get(MODEL_HEADER);
    switch (url.pathname) {
      case '/connect':
        return this.acceptAgent(request);
      case '/forward':
        return this.forward(request);
      case '/registry/set':
        return this.registrySet(request);
      case '/registry/list':
        return Response.json(await this.registryList());
      case '/registry/known':
        return Response.json({ known: (await this.state.storage.get<boolean>(`model:${url.searchParams.get('model')}`)) !== undefined });
      default:
        return openAIError(404, `Unknown tunnel endpoint ${url.pathname}`, 'unknown_url');
    }
  }

  // ---- agents ------------------------------------------------------------

  private acceptAgent(request: Request): Response {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return openAIError(426, 'Expected a WebSocket upgrade.', 'upgrade_required');
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    server.accept();
    const agent: AgentConnection = { ws: server, hello: null, inFlight: 0, lastSeen: Date.now() };
    this.agents.add(agent);
    this.startSweeper();
    server.addEventListener('message', (event) => this.onMessage(agent, event.data));
    server.addEventListener('close', (event) => {
      // Complete the closing handshake, or the agent waits for it.
      try {
        server.close(event.code === 1005 ? 1000 : event.code, 'closed');
      } catch {
        // already closed
      }
      this.drop(agent, 'the agent disconnected');
    });
    server.addEventListener('error', () => this.drop(agent, 'the agent connection failed'));
    return new Response(null, { status: 101, webSocket: client });
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
        } catch (error) {
          this.send(agent, encodeJsonFrame(FrameType.ERROR, 0, { status: 400, message: (error as Error).message, code: 'protocol_error' }));
          this.close(agent, 1002, 'bad hello');
          return;
        }
        this.send(agent, encodeJsonFrame(FrameType.WELCOME, 0, { version: 1 }));
        this.report().catch(() => {}); // the registry is advisory (listing, 404 vs 503); the socket works without it
        return;
      }
      case FrameType.PING:
        this.send(agent, encodeFrame(FrameType.PONG, 0, frame.payload));
        return;
      case FrameType.PONG:
        return;
      case FrameType.RESPONSE_HEAD:
        return this.onResponseHead(agent, frame);
      case FrameType.RESPONSE_BODY: {
        const stream = this.streams.get(frame.streamId);
        if (stream?.agent === agent && stream.controller) stream.controller.enqueue(frame.payload.slice());
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
    const headers = new Headers();
    for (const [k, v] of Object.entries((frame.json.headers ?? {}) as Record<string, unknown>)) {
      if (typeof v === 'string' && !['content-length', 'connection', 'keep-alive', 'transfer-encoding'].includes(k.toLowerCase())) headers.set(k, v);
    }
    const id = frame.streamId;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream.controller = controller;
      },
      cancel: () => this.cancel(id),
    });
    stream.resolveHead(new Response(body, { status: Number(frame.json.status) || 502, headers }));
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
    stream.agent.inFlight--;
  }

  private drop(agent: AgentConnection, why: string): void {
    if (!this.agents.delete(agent)) return;
    // Requests in flight on this socket end with a clean error, not a hang.
    for (const [id, stream] of this.streams) {
      if (stream.agent !== agent) continue;
      this.finish(id);
      if (!stream.headSent) stream.resolveHead(openAIError(502, `The on-prem model "${this.model}" could not answer: ${why} before responding.`, 'agent_disconnected'));
      else stream.controller?.error(new Error(`${why} mid-response`));
    }
    if (this.agents.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
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

  /** Heartbeats: the agent pings; a socket silent for too long is dead and closed. */
  private startSweeper(): void {
    if (this.sweeper) return;
    const idle = Number(this.env.AGENT_IDLE_TIMEOUT_MS) || 45_000;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const agent of this.agents) if (now - agent.lastSeen > idle) this.close(agent, 1001, 'no heartbeat');
    }, Math.max(10, Math.min(5000, idle / 3)));
  }

  private online(): AgentConnection[] {
    return [...this.agents].filter((a) => a.hello);
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

  /** The agent with the lowest in-flight load for its capacity. */
  private pick(): AgentConnection | null {
    let best: AgentConnection | null = null;
    for (const a of this.online()) {
      if (!best || a.inFlight / a.hello!.capacity < best.inFlight / best.hello!.capacity) best = a;
    }
    return best;
  }

  private async forward(request: Request): Promise<Response> {
    const agent = this.pick();
    if (!agent) {
      const known = await this.registryKnown();
      return known
        ? openAIError(503, `The on-prem model "${this.model}" has no agent online right now; start its agent (switchboard-agent) or try again later.`, 'model_offline')
        : openAIError(404, `The model '${this.model}' does not exist or is not configured on this gateway. GET /v1/models lists the models you can use.`, 'model_not_found', 'invalid_request_error');
    }
    const id = this.nextStreamId++;
    if (this.nextStreamId > 0xfffffff0) this.nextStreamId = 1;
    agent.inFlight++;
    const head = new Promise<Response>((resolveHead) => this.streams.set(id, { agent, resolveHead, controller: null, headSent: false }));
    const path = request.headers.get('x-switchboard-path') ?? '/v1/chat/completions';
    this.send(agent, encodeJsonFrame(FrameType.REQUEST_HEAD, id, { method: 'POST', path, headers: { 'content-type': 'application/json' } }));
    // The client going away aborts this request's signal (compatibility flag
    // enable_request_signal); cancelling the response body does not reach a Durable Object.
    request.signal?.addEventListener('abort', () => this.cancel(id));
    void this.sendBody(agent, id, request.body);
    return head;
  }

  /**
   * The request body as it is read, never held whole: reads (≈ 4 KiB each here) are
   * gathered into frames of up to MAX_CHUNK, since the engine can use the body only
   * once it is complete and every frame costs a WebSocket message (a 100 KB body in
   * 4 KiB frames took 3 ms to cross).
   */
  private async sendBody(agent: AgentConnection, id: number, body: ReadableStream<Uint8Array> | null): Promise<void> {
    if (body) {
      const reader = body.getReader();
      const frame = new Uint8Array(MAX_CHUNK);
      let filled = 0;
      const flush = () => {
        if (filled > 0) this.send(agent, encodeFrame(FrameType.REQUEST_BODY, id, frame.slice(0, filled)));
        filled = 0;
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!this.streams.has(id)) {
          await reader.cancel();
          return;
        }
        for (let i = 0; i < value.byteLength; ) {
          const n = Math.min(MAX_CHUNK - filled, value.byteLength - i);
          frame.set(value.subarray(i, i + n), filled);
          filled += n;
          i += n;
          if (filled === MAX_CHUNK) flush();
        }
      }
      flush();
    }
    if (this.streams.has(id)) this.send(agent, encodeFrame(FrameType.REQUEST_END, id));
  }

  // ---- registry (the REGISTRY instance) -----------------------------------

  private async registrySet(request: Request): Promise<Response> {
    const entry = (await request.json()) as { model: string; online: boolean; agents: number; capacity: number; engine: string | null };
    await this.state.storage.put(`model:${entry.model}`, entry);
    return new Response(null, { status: 204 });
  }

  private async registryList() {
    const entries = await this.state.storage.list<{ model: string; online: boolean; agents: number; capacity: number; engine: string | null }>({ prefix: 'model:' });
    return [...entries.values()];
  }

  /** The registry instance; the binding exists wherever this class runs (it is that binding's class). */
  private registryStub(): DurableObjectStub {
    const namespace = this.env.ONPREM_MODELS!;
    return namespace.get(namespace.idFromName(REGISTRY));
  }

  private async registryKnown(): Promise<boolean> {
    const registry = this.registryStub();
    const res = await registry.fetch(`https://onprem/registry/known?model=${encodeURIComponent(this.model ?? '')}`);
    return ((await res.json()) as { known: boolean }).known;
  }
}
