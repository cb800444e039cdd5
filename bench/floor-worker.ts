import { Hono } from 'hono';

// The floor: a bare Hono Worker that forwards each request body to the upstream at
// the same path and streams the answer back, with no parsing, auth or translation.
// Run in the same runtime as the gateway, it measures what the runtime itself costs,
// so gateway overheads are stated above it (DESIGN.md, "Benchmarks").

const app = new Hono<{ Bindings: { UPSTREAM_URL: string } }>();

app.get('/health', (c) => c.json({ ok: true }));

app.post('*', async (c) => {
  const url = new URL(c.req.url);
  const upstream = await fetch(`${c.env.UPSTREAM_URL}${url.pathname}${url.search}`, {
    method: 'POST',
    headers: { 'content-type': c.req.header('content-type') ?? 'application/json' },
    body: c.req.raw.body,
  });
  return new Response(upstream.body, {
    status: upstream.status,
    headers: { 'content-type': upstream.headers.get('content-type') ?? 'application/json' },
  });
});

export default app;
