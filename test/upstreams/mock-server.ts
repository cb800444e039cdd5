import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// The shared skeleton of every mock upstream: a real HTTP server on loopback that
// records each request it receives (so tests assert on the translated request) and
// answers through a provider-specific handler that speaks that provider's wire format.

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  rawBody: string;
  /** The parsed JSON body, or undefined when it was not JSON. */
  body: any;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export class MockServer {
  readonly requests: RecordedRequest[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(handler: Handler): Promise<MockServer> {
    let mock!: MockServer;
    const server = createServer(async (req, res) => {
      const recorded = await record(req);
      mock.requests.push(recorded);
      try {
        await handler(recorded, res);
      } catch (error) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `mock failure: ${String(error)}` } }));
      }
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    mock = new MockServer(server, `http://127.0.0.1:${port}`);
    return mock;
  }

  get last(): RecordedRequest {
    const last = this.requests.at(-1);
    if (!last) throw new Error('the mock received no request');
    return last;
  }

  reset() {
    this.requests.length = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function record(req: IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawBody = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = rawBody ? JSON.parse(rawBody) : undefined;
  } catch {
    body = undefined;
  }
  const url = new URL(req.url ?? '/', 'http://mock');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
  return { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers, rawBody, body };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export interface SseEventOut {
  /** The `event:` line (Anthropic names every event; OpenAI and Gemini do not). */
  event?: string;
  data: string;
}

/**
 * Writes an SSE stream event by event, each flushed on its own, optionally with a
 * pause between events. `abortAfter` destroys the connection after that many events,
 * imitating an upstream that dies mid-stream.
 */
export async function sendSse(
  res: ServerResponse,
  events: SseEventOut[],
  options: { delayMs?: number; abortAfter?: number; headers?: Record<string, string> } = {},
) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...options.headers,
  });
  for (let i = 0; i < events.length; i++) {
    if (options.abortAfter !== undefined && i === options.abortAfter) {
      // Let what was written reach the client first, then cut the connection.
      await new Promise<void>((resolve) => res.write('', () => setTimeout(resolve, 20)));
      res.destroy();
      return;
    }
    const e = events[i];
    res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
  }
  res.end();
}

/** Reads a recorded `.chunks.txt` fixture (one JSON payload per line). */
export function fixtureLines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}
