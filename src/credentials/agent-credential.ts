import type { Env } from '../env';
import { getAgentToken, storedTokenVerdict } from '../tunnel/agent-tokens';
import { AGENT_TOKEN_HEADER, agentIdleTimeoutMs } from '../tunnel/tunnel-names';

// One Durable Object per agent-brokered Azure credential (`auth = "agent:NAME"`). A
// switchboard-agent on a box where someone ran `az login` holds a WebSocket to it
// (GET /v1/agent/credentials?name=NAME, credentials/agent-credential-connect.ts) and
// answers token requests with tokens from the Azure CLI (local-agent/src/credential-broker.js).
// The object keeps the last token and asks the agent for a new one only when it nears
// expiry; one request to the agent serves every caller waiting meanwhile.
//
// Messages, JSON text frames:
//   agent → gateway  {"type":"hello","version":1,"credential":NAME,"host":HOSTNAME}
//   gateway → agent  {"type":"welcome","version":1}
//   gateway → agent  {"type":"token_request","id":N,"scope":"https://cognitiveservices.azure.com/.default"}
//   agent → gateway  {"type":"token","id":N|null,"access_token":"…","expires_on":UNIX_SECONDS}
//                    (id null: the agent refreshed on its own and hands the new token over)
//   agent → gateway  {"type":"error","id":N,"code":"login_required"|"credential_unavailable","message":"…"}
//   either way       {"type":"ping"} / {"type":"pong"}

export const CREDENTIAL_HEADER = 'x-switchboard-credential';
/**
 * The instance that lists every credential name an agent ever connected to, so that
 * revoking an agent token reaches each of them (agent-credential-client.ts). Not a name an
 * agent can dial: those start with a letter or digit (agent-credential-connect.ts).
 */
export const CREDENTIAL_REGISTRY = '__registry__';
export const CREDENTIAL_PROTOCOL_VERSION = 1;
const SCOPE = 'https://cognitiveservices.azure.com/.default';
/** Ask the agent for a new token this long before the cached one expires. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** How long an agent may take to answer (az can take seconds when it refreshes its own login). */
const AGENT_ANSWER_MS = 30_000;

interface AgentSocket {
  ws: WebSocket;
  host: string | null;
  lastSeen: number;
  /** The stored agent token it connected with (null: an AGENT_TOKENS token). */
  tokenId: string | null;
}

interface Cached {
  token: string;
  expiresAt: number;
  /** The stored agent token of the agent that handed it over. */
  tokenId?: string | null;
}

/** Why no token: an OpenAI-style error the Worker passes on. */
class CredentialFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class AgentCredential implements DurableObject {
  private agents: AgentSocket[] = [];
  private cached: Cached | null = null;
  private pending: Promise<Cached> | null = null;
  private waiting = new Map<number, { agent: AgentSocket; resolve: (c: Cached) => void; reject: (e: CredentialFailure) => void; timer: ReturnType<typeof setTimeout> }>();
  private nextId = 1;
  private name: string | null = null;
  /** The box the last agent dialled from, for "start the agent on …" when none is connected. */
  private lastHost: string | null = null;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  /** This name is in the CREDENTIAL_REGISTRY instance (it stays there: stored). */
  private registered = false;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: Pick<Env, 'AGENT_IDLE_TIMEOUT_MS' | 'DB' | 'AGENT_CREDENTIALS'>,
  ) {}

  async fetch(request: Request): Promise<Response> {
    this.name ??= request.headers.get(CREDENTIAL_HEADER);
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/connect':
        return this.accept(request);
      case '/token':
        return this.tokenResponse();
      case '/revoke-token':
        return Response.json({ closed: this.cutOff(url.searchParams.get('token_id')) });
      case '/registry/add':
        await this.state.storage.put(`credential:${url.searchParams.get('name')}`, true);
        return new Response(null, { status: 204 });
      case '/registry/list':
        return Response.json([...(await this.state.storage.list({ prefix: 'credential:' })).keys()].map((k) => k.slice('credential:'.length)));
      default:
        return failure(new CredentialFailure(404, `Unknown credential endpoint ${url.pathname}`, 'unknown_url'));
    }
  }

  // ---- the Worker asks for a token -----------------------------------------

  private async tokenResponse(): Promise<Response> {
    await this.cutOffRevoked();
    const now = Date.now();
    if (this.cached && now < this.cached.expiresAt - REFRESH_MARGIN_MS) return tokenJson(this.cached);
    try {
      this.pending ??= this.askAgent().finally(() => (this.pending = null));
      return tokenJson(await this.pending);
    } catch (error) {
      // The agent could not refresh, but the token it gave before is still good: use it meanwhile.
      if (this.cached && Date.now() < this.cached.expiresAt) return tokenJson(this.cached);
      return failure(error instanceof CredentialFailure ? error : new CredentialFailure(502, String(error), 'upstream_auth_failed'));
    }
  }

  /**
   * Agents whose stored agent token was revoked (or expired) since they connected. Revoking
   * closes them at once (/revoke-token); this check on each token request from the Worker
   * (at least once a minute: agent-credential-client.ts) is the safety net for a revocation
   * whose disconnect failed, and the only cut-off for an expiry.
   */
  private async cutOffRevoked(): Promise<void> {
    const db = this.env.DB;
    if (!db) return;
    const ids = new Set([...this.agents.map((a) => a.tokenId), this.cached?.tokenId].filter((id): id is string => typeof id === 'string'));
    for (const id of ids) {
      let stored;
      try {
        stored = await getAgentToken(db, id);
      } catch {
        continue; // D1 unavailable: keep the agent rather than cut it off on a guess
      }
      if (!('status' in storedTokenVerdict(stored, Date.now()))) continue;
      this.cutOff(id);
    }
  }

  /** The agents of a revoked agent token: their sockets close (1008), and the token they handed over is no longer used. Returns how many closed. */
  private cutOff(tokenId: string | null): number {
    if (!tokenId) return 0;
    if (this.cached?.tokenId === tokenId) this.cached = null;
    const revoked = this.agents.filter((a) => a.tokenId === tokenId);
    for (const agent of revoked) {
      try {
        agent.ws.close(1008, 'agent token revoked');
      } catch {
        // already closed
      }
      this.drop(agent);
    }
    return revoked.length;
  }

  private askAgent(): Promise<Cached> {
    const agent = this.agents.filter((a) => a.host !== null).at(-1);
    if (!agent) {
      const where = this.lastHost ? ` (it was last connected from ${this.lastHost})` : '';
      return Promise.reject(
        new CredentialFailure(
          503,
          `The Azure credential '${this.name}' is brokered by a switchboard-agent, and none is connected for it${where}: start switchboard-agent with \`azure_credentials: [{ name: ${this.name} }]\` on the box where \`az login\` was run.`,
          'provider_not_configured',
        ),
      );
    }
    const id = this.nextId++;
    return new Promise<Cached>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new CredentialFailure(504, `The switchboard-agent on ${agent.host} did not hand over a token for the Azure credential '${this.name}' within ${AGENT_ANSWER_MS / 1000} s.`, 'upstream_timeout'));
      }, AGENT_ANSWER_MS);
      this.waiting.set(id, { agent, resolve, reject, timer });
      this.send(agent, { type: 'token_request', id, scope: SCOPE });
    });
  }

  // ---- the agent's socket ----------------------------------------------------

  private async accept(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return failure(new CredentialFailure(426, 'Expected a WebSocket upgrade.', 'upgrade_required'));
    // Listed before the socket opens, so a revocation from then on finds this object; an
    // agent that cannot be listed is refused (it retries) rather than kept out of reach.
    try {
      await this.register();
    } catch (error) {
      console.error(`agent credential ${this.name}: listing it in the registry failed:`, error instanceof Error ? error.message : String(error));
      return failure(new CredentialFailure(503, 'The gateway could not register this credential connection; try again.', 'registry_unavailable'));
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    server.accept();
    const agent: AgentSocket = { ws: server, host: null, lastSeen: Date.now(), tokenId: request.headers.get(AGENT_TOKEN_HEADER) };
    this.agents.push(agent);
    this.startSweeper();
    server.addEventListener('message', (event) => this.onMessage(agent, event.data));
    server.addEventListener('close', (event) => {
      try {
        server.close(event.code === 1005 ? 1000 : event.code, 'closed');
      } catch {
        // already closed
      }
      this.drop(agent);
    });
    server.addEventListener('error', () => this.drop(agent));
    return new Response(null, { status: 101, webSocket: client });
  }

  private onMessage(agent: AgentSocket, data: string | ArrayBuffer): void {
    agent.lastSeen = Date.now();
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
      if (!message || typeof message !== 'object') throw new Error('not an object');
    } catch {
      return this.reject(agent, 'messages are JSON objects');
    }
    if (agent.host === null && message.type !== 'hello') return this.reject(agent, `${String(message.type)} before hello`);
    switch (message.type) {
      case 'hello': {
        if (message.version !== CREDENTIAL_PROTOCOL_VERSION) return this.reject(agent, `protocol version ${String(message.version)} is not supported (this gateway speaks ${CREDENTIAL_PROTOCOL_VERSION})`);
        if (message.credential !== this.name) return this.reject(agent, `hello.credential "${String(message.credential)}" does not match this connection's "${this.name}"`);
        agent.host = typeof message.host === 'string' && message.host ? message.host.slice(0, 200) : 'an unnamed box';
        this.lastHost = agent.host;
        this.send(agent, { type: 'welcome', version: CREDENTIAL_PROTOCOL_VERSION });
        return;
      }
      case 'ping':
        return this.send(agent, { type: 'pong' });
      case 'pong':
        return;
      case 'token': {
        const expiresOn = Number(message.expires_on);
        if (typeof message.access_token !== 'string' || !message.access_token || !Number.isFinite(expiresOn)) return this.reject(agent, 'token: access_token and expires_on (Unix seconds) are required');
        const token: Cached = { token: message.access_token, expiresAt: expiresOn * 1000, tokenId: agent.tokenId };
        if (!this.cached || token.expiresAt >= this.cached.expiresAt) this.cached = token;
        const waiter = typeof message.id === 'number' ? this.waiting.get(message.id) : undefined;
        if (waiter) {
          this.waiting.delete(message.id as number);
          clearTimeout(waiter.timer);
          waiter.resolve(token);
        }
        return;
      }
      case 'error': {
        const waiter = typeof message.id === 'number' ? this.waiting.get(message.id) : undefined;
        if (!waiter) return;
        this.waiting.delete(message.id as number);
        clearTimeout(waiter.timer);
        const said = String(message.message ?? 'no details').slice(0, 400);
        waiter.reject(
          message.code === 'login_required'
            ? new CredentialFailure(
                502,
                `The Azure CLI login on ${agent.host} (Azure credential '${this.name}') has expired or is missing: run \`az login\` on ${agent.host}. The Azure CLI said: ${said}`,
                'upstream_auth_failed',
              )
            : new CredentialFailure(502, `The switchboard-agent on ${agent.host} could not get a token for the Azure credential '${this.name}': ${said}`, 'upstream_auth_failed'),
        );
        return;
      }
      default:
        return this.reject(agent, `unknown message type ${String(message.type)}`);
    }
  }

  private reject(agent: AgentSocket, why: string): void {
    this.send(agent, { type: 'error', id: null, code: 'protocol_error', message: why });
    try {
      agent.ws.close(1002, 'protocol error');
    } catch {
      // already closed
    }
    this.drop(agent);
  }

  private send(agent: AgentSocket, message: object): void {
    try {
      agent.ws.send(JSON.stringify(message));
    } catch {
      this.drop(agent);
    }
  }

  private async register(): Promise<void> {
    const namespace = this.env.AGENT_CREDENTIALS;
    if (this.registered || !namespace || !this.name) return;
    const res = await namespace.get(namespace.idFromName(CREDENTIAL_REGISTRY)).fetch(`https://credential/registry/add?name=${encodeURIComponent(this.name)}`, { method: 'POST' });
    if (!res.ok) throw new Error(`the registry answered ${res.status}`);
    this.registered = true;
  }

  private drop(agent: AgentSocket): void {
    const i = this.agents.indexOf(agent);
    if (i < 0) return;
    this.agents.splice(i, 1);
    // Token requests it was asked: no answer will come; fail them now rather than at the timeout.
    for (const [id, waiter] of this.waiting) {
      if (waiter.agent !== agent) continue;
      this.waiting.delete(id);
      clearTimeout(waiter.timer);
      waiter.reject(new CredentialFailure(502, `The switchboard-agent on ${agent.host} disconnected before handing over a token for the Azure credential '${this.name}'.`, 'upstream_auth_failed'));
    }
    if (this.agents.length === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** The agent pings; a socket silent for too long is dead and closed. */
  private startSweeper(): void {
    if (this.sweeper) return;
    const idle = agentIdleTimeoutMs(this.env);
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const agent of [...this.agents]) {
        if (now - agent.lastSeen <= idle) continue;
        try {
          agent.ws.close(1001, 'no heartbeat');
        } catch {
          // already closed
        }
        this.drop(agent);
      }
    }, Math.max(10, Math.min(5000, idle / 3)));
  }
}

function tokenJson(token: Cached): Response {
  return Response.json({ access_token: token.token, expires_on: Math.floor(token.expiresAt / 1000) });
}

function failure(error: CredentialFailure): Response {
  return Response.json({ error: { message: error.message, type: error.status >= 500 ? 'upstream_error' : 'invalid_request_error', param: null, code: error.code } }, { status: error.status });
}
