import { Hono } from 'hono';

// The floor: a bare Hono Worker that forwards each request body to the upstream at
// the same path and streams the answer back, with no parsing, auth or translation.
// Run in the same runtime as the gateway, it measures what the runtime itself costs,
// so gateway overheads are stated above it (DESIGN.md, "Benchmarks").
//
// Under /js-relay/… it does the same, but hands each piece of the answer through
// JavaScript (read from the upstream, enqueued to the client: nothing else), as any
// Worker that translates a stream must. The runtime pipes the plain floor's stream
// natively; the difference between the two is the runtime's own cost per streamed
// event once JavaScript touches it, which no translation can go below.
//
// Under /whole-relay/… it also reads the request body whole before sending it on, as a
// Worker that translates the request must (it cannot send a byte of its translation
// before it has parsed the whole request), where the plain floor streams the body to the
// upstream as it arrives. With the JS relay, this is the floor of a translating gateway's
// first chunk, before any translation work.

const app = new Hono<{ Bindings: { UPSTREAM_URL: string } }>();

const JS_RELAY = '/js-relay';
const WHOLE_RELAY = '/whole-relay';

app.get('/health', (c) => c.json({ ok: true }));

app.post('*', async (c) => {
  const url = new URL(c.req.url);
  const whole = url.pathname.startsWith(`${WHOLE_RELAY}/`);
  const relay = whole || url.pathname.startsWith(`${JS_RELAY}/`);
  const path = whole ? url.pathname.slice(WHOLE_RELAY.length) : relay ? url.pathname.slice(JS_RELAY.length) : url.pathname;
  const upstream = await fetch(`${c.env.UPSTREAM_URL}${path}${url.search}`, {
    method: 'POST',
    headers: { 'content-type': c.req.header('content-type') ?? 'application/json' },
    body: whole ? await c.req.raw.arrayBuffer() : c.req.raw.body,
  });
  return new Response(relay && upstream.body ? jsRelay(upstream.body) : upstream.body, {
    status: upstream.status,
    headers: { 'content-type': upstream.headers.get('content-type') ?? 'application/json' },
  });
});

/** The body, each piece read and enqueued by JavaScript (as openAIChunkStream does, minus the translation). */
function jsRelay(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 16 },
  );
}

export default app;
