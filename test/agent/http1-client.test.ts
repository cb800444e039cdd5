import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Client, requestHead, ResponseParser, type EngineResponse } from '../../local-agent/src/http1-client.js';
import { freePorts, waitFor } from './helpers';

/** What the parser reported for these pieces of a response. */
function parse(pieces: (string | Buffer)[], { method = 'POST', end = false } = {}) {
  const body: Buffer[] = [];
  const out = {
    head: undefined as any,
    ends: 0,
    parser: undefined as unknown as ResponseParser,
    get body() {
      return Buffer.concat(body).toString('utf8');
    },
  };
  const parser = new ResponseParser(method, {
    onHead: (h: unknown) => (out.head = h),
    onBody: (b: Buffer) => body.push(Buffer.from(b)),
    onEnd: () => out.ends++,
  });
  out.parser = parser;
  for (const p of pieces) parser.feed(Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8'));
  if (end) parser.end();
  return out;
}

/** Every way of cutting `text` in two: a parser must not care where its reads end. */
const everySplit = (text: string) => Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);

describe('ResponseParser', () => {
  const lengthResponse = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';
  const chunkedResponse =
    'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n' +
    '6\r\ndata: \r\n' +
    'C;name=value\r\n{"a":"é"}\n\n\r\n' + // 12 bytes: é is two
    '0\r\nx-trailer: yes\r\n\r\n';

  it('a content-length body, however the bytes are split', () => {
    for (const split of everySplit(lengthResponse)) {
      const r = parse(split);
      expect(r.head).toEqual({ status: 200, statusText: 'OK', headers: { 'content-type': 'application/json', 'content-length': '11' }, keepAlive: true });
      expect(r.body).toBe('{"ok":true}');
      expect(r.ends).toBe(1);
      expect(r.parser.done).toBe(true);
    }
  });

  it('a chunked body (extensions, a multi-byte character, trailers), however the bytes are split', () => {
    const bytes = Buffer.from(chunkedResponse, 'utf8');
    for (let i = 0; i <= bytes.length; i++) {
      const r = parse([bytes.subarray(0, i), bytes.subarray(i)]);
      expect(r.head.headers['transfer-encoding']).toBe('chunked');
      expect(r.body).toBe('data: {"a":"é"}\n\n');
      expect(r.ends).toBe(1);
    }
  });

  it('a body without length or chunking runs to the end of the connection, which is then not kept', () => {
    const r = parse(['HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nhello ', 'world']);
    expect(r.head.keepAlive).toBe(false);
    expect(r.ends).toBe(0);
    r.parser.end();
    expect(r.body).toBe('hello world');
    expect(r.ends).toBe(1);
  });

  it('HEAD, 204 and 304 answers have no body, whatever their headers say', () => {
    expect(parse(['HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n'], { method: 'HEAD' })).toMatchObject({ body: '', ends: 1 });
    expect(parse(['HTTP/1.1 204 No Content\r\n\r\n'])).toMatchObject({ body: '', ends: 1 });
    expect(parse(['HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n'])).toMatchObject({ body: '', ends: 1 });
    expect(parse(['HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'])).toMatchObject({ body: '', ends: 1 });
  });

  it('skips interim 1xx answers; joins repeated headers (set-cookie kept apart); keep-alive by version and connection', () => {
    const r = parse(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n', 'HTTP/1.1 429 Too Many Requests\r\nX-A: 1\r\nx-a: 2\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 2\r\n\r\nno']);
    expect(r.head).toEqual({ status: 429, statusText: 'Too Many Requests', headers: { 'x-a': '1, 2', 'set-cookie': ['a=1', 'b=2'], 'content-length': '2' }, keepAlive: true });
    expect(r.body).toBe('no');
    expect(parse(['HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n']).head.keepAlive).toBe(false);
    expect(parse(['HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n']).head.keepAlive).toBe(false);
    expect(parse(['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n']).head.keepAlive).toBe(true);
    expect(parse(['HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n']).head.statusText).toBe('');
  });

  it('notices bytes after the response (the connection then carries no other request)', () => {
    expect(parse([lengthResponse]).parser.surplus).toBe(false);
    expect(parse([`${lengthResponse}HTTP/1.1 200 OK\r\n`]).parser.surplus).toBe(true);
  });

  it.each([
    ['not HTTP', ['SSH-2.0-OpenSSH\r\n\r\n'], /status line/],
    ['a header line without a colon', ['HTTP/1.1 200 OK\r\nbroken\r\n\r\n'], /header line/],
    ['conflicting content-lengths', ['HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n'], /content-length/],
    ['a negative content-length', ['HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n'], /content-length/],
    ['a chunk size that is not hex', ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'], /chunk size/],
    ['chunk data longer than its size', ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n'], /longer than its size/],
    ['an upgrade nobody asked for', ['HTTP/1.1 101 Switching Protocols\r\n\r\n'], /upgrade/],
    ['a head that never ends', ['HTTP/1.1 200 OK\r\n', `x: ${'a'.repeat(70_000)}`], /head longer/],
  ])('throws on %s', (_, pieces, message) => {
    expect(() => parse(pieces)).toThrow(message);
  });

  it('a connection that ends mid-head or mid-body is a cut-short response', () => {
    expect(() => parse(['HTTP/1.1 200 OK\r\ncont'], { end: true })).toThrow(/before a complete response head/);
    expect(() => parse(['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'], { end: true })).toThrow(/mid-body/);
    expect(() => parse(['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n'], { end: true })).toThrow(/mid-body/);
  });
});

describe('requestHead', () => {
  it('the request line, host, the headers that are not hop-by-hop, and the body length', () => {
    const head = requestHead('POST', '/v1/chat/completions', '127.0.0.1:9000', { 'content-type': 'application/json', connection: 'close', 'Content-Length': '999', 'x-many': ['a', 'b'], skipped: undefined, expect: '100-continue' }, 42);
    expect(head).toBe('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:9000\r\ncontent-type: application/json\r\nx-many: a\r\nx-many: b\r\ncontent-length: 42\r\n\r\n');
  });

  it('refuses what would change the request: CR/LF in a value, a bad header name, method or path', () => {
    expect(() => requestHead('POST', '/', 'h', { 'x-a': 'ok\r\nx-injected: 1' }, 0)).toThrow(TypeError);
    expect(() => requestHead('POST', '/', 'h', { 'bad name': 'v' }, 0)).toThrow(TypeError);
    expect(() => requestHead('PO ST', '/', 'h', {}, 0)).toThrow(TypeError);
    expect(() => requestHead('POST', '/a b', 'h', {}, 0)).toThrow(TypeError);
    expect(() => requestHead('POST', 'http://elsewhere/', 'h', {}, 0)).toThrow(TypeError);
    expect(() => requestHead('POST', '/v1/modèles', 'h', {}, 0)).toThrow(TypeError);
    expect(() => requestHead('POST', '/', 'h', { 'x-a': 'snow ☃' }, 0)).toThrow(TypeError);
    expect(requestHead('POST', '/v1/chat/completions?x=1', 'h', { 'x-a': 'café\tau lait' }, 0)).toContain('x-a: café\tau lait\r\n');
  });
});

const servers: (Server | TcpServer)[] = [];
const clients: Http1Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) {
    (s as Server).closeAllConnections?.();
    s.close();
  }
});

async function listen<S extends Server | TcpServer>(server: S): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function clientFor(port: number) {
  const client = new Http1Client('127.0.0.1', port);
  clients.push(client);
  return client;
}

async function text(res: EngineResponse) {
  let out = '';
  for await (const c of res) out += c;
  return out;
}

const post = (client: Http1Client, body = '{}', signal?: AbortSignal) =>
  client.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: Buffer.from(body), signal });

describe('Http1Client against real servers', () => {
  it('keeps one connection for requests one after another; the engine gets the body and headers as sent', async () => {
    let connections = 0;
    const seen: { url?: string; host?: string; type?: string; length?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c) => parts.push(c));
      req.on('end', () => {
        seen.push({ url: req.url, host: req.headers.host, type: req.headers['content-type'], length: req.headers['content-length'], body: Buffer.concat(parts).toString() });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"n":${seen.length}}`);
      });
    });
    server.on('connection', () => connections++);
    const port = await listen(server);
    const client = clientFor(port);
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(300_000) }] });
    for (const body of ['{"a":1}', big, '{"a":3}']) {
      const res = await post(client, body);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      await text(res);
    }
    expect(seen.map((s) => s.body)).toEqual(['{"a":1}', big, '{"a":3}']);
    expect(seen[0]).toMatchObject({ url: '/v1/chat/completions', host: `127.0.0.1:${port}`, type: 'application/json', length: '7' });
    expect(connections).toBe(1);
  });

  it('streams a chunked answer as it comes; an answer with connection: close is not reused', async () => {
    let connections = 0;
    let send!: (s: string) => void;
    let finish!: () => void;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', ...(req.headers['x-close'] ? { connection: 'close' } : {}) });
        res.flushHeaders();
        send = (s) => res.write(s);
        finish = () => res.end();
      });
    });
    server.on('connection', () => connections++);
    const port = await listen(server);
    const client = clientFor(port);
    const res = await post(client);
    const got: string[] = [];
    res.on('data', (c: Buffer) => got.push(c.toString()));
    const ended = new Promise((r) => res.once('end', r));
    send('data: 1\n\n');
    await waitFor(() => got.join('') === 'data: 1\n\n', 'the first event before the answer ends');
    send('data: 2\n\n');
    finish();
    await ended;
    expect(got.join('')).toBe('data: 1\n\ndata: 2\n\n');

    const closing = await client.request({ method: 'POST', path: '/', headers: { 'x-close': '1' }, body: Buffer.from('{}') });
    const closingText = text(closing);
    finish();
    await closingText;
    const again = await post(client);
    const againText = text(again);
    finish();
    await againText;
    expect(connections).toBe(2);
  });

  it('a kept connection the engine closed while idle is replaced without the caller noticing', async () => {
    // The engine serves one request per connection, then closes the next one unanswered (a keep-alive timeout's race).
    let served = 0;
    let connections = 0;
    const server = createTcpServer((socket: Socket) => {
      connections++;
      let requests = 0;
      socket.on('data', (data) => {
        if (!data.includes('\r\n\r\n')) return;
        if (++requests > 1) return socket.destroy();
        served++;
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      });
    });
    const port = await listen(server);
    const client = clientFor(port);
    expect(await text(await post(client))).toBe('ok');
    expect(await text(await post(client))).toBe('ok');
    expect(served).toBe(2);
    expect(connections).toBe(2); // the second request tried the kept one, then a new one
  });

  it('an idle connection the engine closes is dropped, not handed to the next request', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.keepAliveTimeout = 30;
    const port = await listen(server);
    const client = clientFor(port);
    expect(await text(await post(client))).toBe('ok');
    await waitFor(() => client.idle.length === 0, 'the closed idle connection dropped');
    expect(await text(await post(client))).toBe('ok');
  });

  it('nothing listening: ECONNREFUSED (the pool retries elsewhere)', async () => {
    const [port] = [await freePorts(1)];
    await expect(post(clientFor(port))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('aborting before the answer closes the connection; aborting mid-body ends the body with "aborted"', async () => {
    const closed: string[] = [];
    let release!: () => void;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.on('close', () => closed.push(req.headers['x-case'] as string));
        if (req.headers['x-case'] === 'mid-body') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: 1\n\n');
        }
        release = () => res.end();
      });
    });
    const port = await listen(server);
    const client = clientFor(port);

    const before = new AbortController();
    const pending = client.request({ method: 'POST', path: '/', headers: { 'x-case': 'before' }, body: Buffer.from('{}'), signal: before.signal });
    await waitFor(() => release !== undefined, 'the request at the engine');
    before.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => closed.includes('before'), 'the engine sees the request closed');

    const mid = new AbortController();
    const res = await client.request({ method: 'POST', path: '/', headers: { 'x-case': 'mid-body' }, body: Buffer.from('{}'), signal: mid.signal });
    const events: string[] = [];
    res.on('aborted', () => events.push('aborted'));
    res.on('end', () => events.push('end'));
    res.on('close', () => events.push('close'));
    res.resume();
    mid.abort();
    await waitFor(() => closed.includes('mid-body'), 'the engine sees the stream closed');
    await waitFor(() => events.includes('close'), 'the body closed');
    expect(events).toEqual(['aborted', 'close']);
  });

  it('an engine that dies mid-body: "aborted", no "end"; a reader that stops reading closes the connection', async () => {
    const server = createTcpServer((socket: Socket) => {
      socket.once('data', (data) => {
        if (data.includes('x-case: dies')) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten..');
        else socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
      });
    });
    const closedByClient = new Promise<void>((resolve) => server.on('connection', (s: Socket) => s.on('close', () => resolve())));
    const port = await listen(server);
    const client = clientFor(port);
    const res = await client.request({ method: 'POST', path: '/', headers: { 'x-case': 'dies' }, body: Buffer.from('{}') });
    const events: string[] = [];
    res.on('aborted', () => events.push('aborted'));
    res.on('end', () => events.push('end'));
    res.on('data', () => {});
    await new Promise((r) => res.once('close', r));
    expect(events).toEqual(['aborted']);

    const open = await post(client);
    open.once('data', () => open.destroy());
    await closedByClient;
  });

  it('a slow reader holds the engine back (the socket pauses) and still gets every byte', async () => {
    const size = 16 * 1024 * 1024;
    let wroteAll = false;
    let blocked = false;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-length': size });
        const piece = Buffer.alloc(64 * 1024, 97);
        let sent = 0;
        const pump = () => {
          while (sent < size) {
            sent += piece.length;
            if (!res.write(piece)) {
              blocked = true;
              return res.once('drain', pump);
            }
          }
          wroteAll = true;
          res.end();
        };
        pump();
      });
    });
    const port = await listen(server);
    const res = await post(clientFor(port));
    res.pause();
    await waitFor(() => blocked, 'the engine blocked by the paused reader');
    await new Promise((r) => setTimeout(r, 50));
    expect(wroteAll).toBe(false);
    let got = 0;
    for await (const c of res) got += (c as Buffer).length;
    expect(got).toBe(size);
  });

  it('bytes that are not HTTP: a clear error, the connection closed', async () => {
    const server = createTcpServer((socket: Socket) => socket.once('data', () => socket.write('220 smtp.example ESMTP\r\n\r\n')));
    const port = await listen(server);
    await expect(post(clientFor(port))).rejects.toMatchObject({ code: 'HPE_INVALID_RESPONSE', message: expect.stringContaining('status line') });
  });

  it('close() ends the idle connections', async () => {
    let open = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.on('connection', (s) => {
      open++;
      s.on('close', () => open--);
    });
    const port = await listen(server);
    const client = clientFor(port);
    await text(await post(client));
    expect(open).toBe(1);
    client.close();
    await waitFor(() => open === 0, 'the idle connection closed');
  });
});
