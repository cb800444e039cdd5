// Azure credentials brokered for the gateway: on a box where someone ran `az login`, the
// agent gets Entra ID tokens from the Azure CLI (through @azure/identity's
// AzureCliCredential, i.e. `az account get-access-token --output json --resource …`) and
// hands them to the gateway over its own WebSocket, one per credential name
// (GET /v1/agent/credentials?name=NAME; gateway side: src/credentials/agent-credential.ts,
// which documents the JSON messages). The gateway asks when its cached token nears expiry;
// the agent also refreshes on its own 5 minutes before expiry and hands the new token
// over, so the CLI's long-lived login keeps runs going without anyone re-running
// `az login` by hand every hour. When the CLI login itself has expired, the gateway is
// told so (code login_required) and says which box needs `az login`.

import WebSocket from 'ws';
import { reconnectDelay } from './protocol.js';

export const CREDENTIAL_PROTOCOL_VERSION = 1;
export const AZURE_OPENAI_SCOPE = 'https://cognitiveservices.azure.com/.default';
const REFRESH_MARGIN_MS = 5 * 60_000;
/** Never refresh more often than this on its own (a token issued with little life left). */
const MIN_REFRESH_DELAY_MS = 30_000;
/** After a failed refresh of its own, try again this much later (someone may run `az login`). */
const RETRY_AFTER_FAILURE_MS = 60_000;

/** Errors that only a new `az login` fixes (the CLI's refresh token expired, was revoked, or needs MFA again). */
const LOGIN_REQUIRED = /az login|AADSTS(700082|50173|50078|50076|50079|70043|500133|53003|65001)\b|refresh token has expired|interaction_required|invalid_grant/i;

/**
 * What a failed getToken means, for the gateway: `login_required` (run `az login` on this box)
 * or `credential_unavailable` (anything else: az missing, a broken answer). The message is the
 * CLI's, shortened; it carries no secret (az prints none on failure).
 * @param {unknown} error
 * @returns {{ code: 'login_required' | 'credential_unavailable', message: string }}
 */
export function credentialErrorOf(error) {
  const text = String(error && typeof error === 'object' && 'message' in error ? error.message : error)
    .replace(/\s+/g, ' ')
    .replace(/^ERROR: /, '')
    // Entra's request identifiers say nothing to the reader of a gateway error.
    .replace(/ ?Trace ID: \S+ Correlation ID: \S+ Timestamp: \S+ \S+/, '')
    .trim()
    .slice(0, 400);
  return { code: LOGIN_REQUIRED.test(text) ? 'login_required' : 'credential_unavailable', message: text || 'no details' };
}

/** The Azure CLI credential (@azure/identity is loaded only by agents that broker one). */
export async function azureCliCredential({ tenantId, subscription } = {}) {
  const { AzureCliCredential } = await import('@azure/identity');
  return new AzureCliCredential({ ...(tenantId ? { tenantId } : {}), ...(subscription ? { subscription } : {}) });
}

export class CredentialBroker {
  /**
   * @param {object} options
   * @param {string} options.name          the credential's name (the gateway's `auth = "agent:NAME"`)
   * @param {string} options.url           gateway base URL (ws:// or wss://)
   * @param {string} options.token         agent token
   * @param {string} options.host          this box, named in "run `az login` on …"
   * @param {{ getToken(scope: string): Promise<{ token: string, expiresOnTimestamp: number } | null> }} options.credential
   * @param {number} options.heartbeatMs
   * @param {number} options.reconnectInitialMs
   * @param {number} options.reconnectMaxMs
   * @param {(line: string) => void} options.log
   * @param {() => number} [options.now]
   */
  constructor(options) {
    this.options = options;
    this.now = options.now ?? Date.now;
    /** @type {{ token: string, expiresAt: number } | null} */
    this.cached = null;
    this.pending = null;
    this.ws = null;
    this.connected = false;
    this.closed = false;
    this.attempt = 0;
    this.timer = null;
    this.refreshTimer = null;
    this.heartbeat = null;
    this.lastSeen = 0;
  }

  get name() {
    return this.options.name;
  }

  start() {
    // A token at once: a login that has expired is reported at start-up, not at the first request.
    this.refresh().catch(() => {});
    this.connect();
  }

  /** The cached token, or a new one from the CLI when it nears expiry; one CLI run for concurrent askers. */
  async currentToken() {
    if (this.cached && this.now() < this.cached.expiresAt - REFRESH_MARGIN_MS) return this.cached;
    return this.refresh();
  }

  /** A new token from the CLI, handed to the gateway when connected (it may be waiting for one). */
  refresh() {
    this.pending ??= (async () => {
      await null; // so that `pending` is set before the finally below clears it
      try {
        const got = await this.options.credential.getToken(AZURE_OPENAI_SCOPE);
        if (!got?.token) throw new Error('the Azure CLI returned no token');
        const token = { token: got.token, expiresAt: got.expiresOnTimestamp };
        this.cached = token;
        this.schedule(Math.max(MIN_REFRESH_DELAY_MS, token.expiresAt - REFRESH_MARGIN_MS - this.now()));
        return token;
      } catch (error) {
        const failure = credentialErrorOf(error);
        this.options.log(
          failure.code === 'login_required'
            ? `credential ${this.name}: the Azure CLI login on this box (${this.options.host}) has expired: run \`az login\` here (${failure.message})`
            : `credential ${this.name}: no token from the Azure CLI: ${failure.message}`,
        );
        this.schedule(RETRY_AFTER_FAILURE_MS);
        throw Object.assign(new Error(failure.message), failure);
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }

  /** Refreshes on its own before expiry and hands the new token over. */
  schedule(ms) {
    clearTimeout(this.refreshTimer);
    if (this.closed) return;
    this.refreshTimer = setTimeout(() => {
      this.refresh().then((token) => this.push(null, token), () => {});
    }, ms);
    this.refreshTimer.unref?.();
  }

  push(id, token) {
    this.send({ type: 'token', id, access_token: token.token, expires_on: Math.floor(token.expiresAt / 1000) });
  }

  get url() {
    return `${this.options.url}/v1/agent/credentials?name=${encodeURIComponent(this.name)}`;
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.url, { headers: { authorization: `Bearer ${this.options.token}` } });
    this.ws = ws;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', version: CREDENTIAL_PROTOCOL_VERSION, credential: this.name, host: this.options.host })));
    ws.on('unexpected-response', (_req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 300);
        const why = res.statusCode === 401 || res.statusCode === 403 ? 'the gateway rejected the agent token' : `the gateway answered ${res.statusCode}`;
        this.options.log(`credential ${this.name}: ${why}: ${body}`);
        ws.terminate();
      });
    });
    ws.on('message', (data) => this.onMessage(ws, data));
    ws.on('error', (error) => {
      if (!this.closed) this.options.log(`credential ${this.name}: ${error.message}`);
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  onMessage(ws, data) {
    if (ws !== this.ws) return;
    this.lastSeen = Date.now();
    let message;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      this.options.log(`credential ${this.name}: the gateway sent something that is not JSON; reconnecting`);
      ws.close(1002, 'protocol error');
      return;
    }
    switch (message.type) {
      case 'welcome':
        this.connected = true;
        this.attempt = 0;
        this.options.log(`credential ${this.name}: connected to ${this.options.url}`);
        this.startHeartbeat(ws);
        // The gateway may have restarted: hand it the token this agent already holds.
        if (this.cached && this.now() < this.cached.expiresAt) this.push(null, this.cached);
        break;
      case 'token_request':
        this.currentToken().then(
          (token) => this.push(message.id, token),
          (error) => this.send({ type: 'error', id: message.id, code: error.code ?? 'credential_unavailable', message: error.message }),
        );
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'pong':
        break;
      case 'error':
        this.options.log(`credential ${this.name}: the gateway reported: ${message.message}`);
        break;
      default:
        this.options.log(`credential ${this.name}: ignoring ${String(message.type)} from the gateway`);
    }
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  startHeartbeat(ws) {
    clearInterval(this.heartbeat);
    this.lastSeen = Date.now();
    this.heartbeat = setInterval(() => {
      if (ws !== this.ws) return;
      if (Date.now() - this.lastSeen > 2 * this.options.heartbeatMs) {
        this.options.log(`credential ${this.name}: no heartbeat from the gateway for ${2 * this.options.heartbeatMs} ms; reconnecting`);
        ws.terminate();
        return;
      }
      this.send({ type: 'ping' });
    }, this.options.heartbeatMs);
  }

  onClose(ws, code, reason) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    const wasConnected = this.connected;
    this.connected = false;
    this.ws = null;
    if (this.closed) return;
    this.attempt++;
    const delay = reconnectDelay(this.attempt, this.options.reconnectInitialMs, this.options.reconnectMaxMs);
    if (wasConnected || this.attempt === 1) this.options.log(`credential ${this.name}: connection closed (${code}${reason ? ` ${reason}` : ''}); reconnecting in ${delay} ms`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.refreshTimer);
    clearInterval(this.heartbeat);
    this.ws?.close(1001, 'agent stopping');
  }
}
