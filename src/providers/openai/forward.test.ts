import { describe, expect, it } from 'vitest';
import { normalizeAzureStreamEvent } from '../azure';
import { forwardChatCompletion, guardSseStream, guardStartedSseStream, openAIStyleError, pipeSseStream, pipeStartedSseStream } from './forward';

// The pass-through stream guard: whole events forwarded as they complete, byte for
// byte; a stream that ends without [DONE] or fails mid-read ends with an error chunk.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const EV1 = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"héllo 😀"},"finish_reason":null}]}\n\n';
const EV2 = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
const DONE = 'data: [DONE]\n\n';

/** An upstream body delivering these reads, then ending, or failing with `error`. */
function upstream(reads: (string | Uint8Array)[], error?: Error): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < reads.length) {
        const r = reads[i++];
        controller.enqueue(typeof r === 'string' ? encoder.encode(r) : r);
      } else if (error) controller.error(error);
      else controller.close();
    },
  });
}

/** Each piece the guard enqueued, as text. */
async function pieces(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out.push(decoder.decode(value));
  }
}

/** Splits bytes into reads of `size` bytes (cutting through multi-byte characters). */
function reads(text: string, size: number): Uint8Array[] {
  const bytes = encoder.encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

function errorChunkOf(piece: string) {
  expect(piece.endsWith(`\n\n${DONE}`)).toBe(true);
  const chunk = JSON.parse(piece.slice('data: '.length, piece.indexOf('\n\n')));
  expect(chunk).toMatchObject({ object: 'chat.completion.chunk', choices: [] });
  expect(typeof chunk.id).toBe('string');
  expect(typeof chunk.created).toBe('number');
  return chunk.error as { message: string; type: string; param: null; code: string };
}

describe('guardSseStream', () => {
  it('forwards a whole stream byte for byte, one piece per read', async () => {
    const out = await pieces(guardSseStream(upstream([EV1, EV2, DONE]), 'OpenAI'));
    expect(out).toEqual([EV1, EV2, DONE]);
  });

  it.each([1, 2, 3, 7, 64])('holds events split across reads of %i bytes until they are whole', async (size) => {
    const text = EV1 + EV2 + DONE;
    const out = await pieces(guardSseStream(upstream(reads(text, size)), 'OpenAI'));
    expect(out.join('')).toBe(text);
    for (const piece of out) expect(piece.endsWith('\n\n')).toBe(true);
  });

  it('forwards several events that arrive in one read together', async () => {
    expect(await pieces(guardSseStream(upstream([EV1 + EV2, DONE]), 'OpenAI'))).toEqual([EV1 + EV2, DONE]);
  });

  it('handles CRLF framing', async () => {
    const crlf = (EV1 + EV2 + DONE).replace(/\n/g, '\r\n');
    const out = await pieces(guardSseStream(upstream(reads(crlf, 5)), 'OpenAI'));
    expect(out.join('')).toBe(crlf);
    for (const piece of out) expect(piece.endsWith('\r\n\r\n')).toBe(true);
  });

  it('accepts a final [DONE] without its blank line', async () => {
    const out = await pieces(guardSseStream(upstream([EV1, 'data: [DONE]']), 'OpenAI'));
    expect(out).toEqual([EV1, DONE]);
  });

  it('ends a stream that stops without [DONE] with an error chunk', async () => {
    const out = await pieces(guardSseStream(upstream([EV1, EV2]), 'OpenAI'));
    expect(out.slice(0, 2)).toEqual([EV1, EV2]);
    expect(out).toHaveLength(3);
    expect(errorChunkOf(out[2])).toMatchObject({ type: 'upstream_error', code: 'upstream_stream_truncated', param: null });
  });

  it('forwards a whole last event that lacks its blank line, then reports the truncation', async () => {
    const out = await pieces(guardSseStream(upstream([EV1, EV2.trimEnd()]), 'OpenAI'));
    expect(out[1]).toBe(EV2);
    expect(errorChunkOf(out[2]).code).toBe('upstream_stream_truncated');
  });

  it('drops half an event cut off mid-JSON, so the client sees the error and not bad JSON', async () => {
    const out = await pieces(guardSseStream(upstream([EV1, EV2.slice(0, 40)]), 'OpenAI'));
    expect(out).toHaveLength(2);
    expect(out[0]).toBe(EV1);
    expect(errorChunkOf(out[1]).code).toBe('upstream_stream_truncated');
  });

  it('drops half an event cut inside a multi-byte character', async () => {
    const bytes = encoder.encode(EV1);
    const cut = bytes.indexOf(0xf0) + 2; // inside 😀
    const out = await pieces(guardSseStream(upstream([encoder.encode(EV2), bytes.slice(0, cut)]), 'OpenAI'));
    expect(out[0]).toBe(EV2);
    expect(errorChunkOf(out[1]).code).toBe('upstream_stream_truncated');
  });

  it('reports an empty stream as truncated', async () => {
    const out = await pieces(guardSseStream(upstream([]), 'OpenAI'));
    expect(errorChunkOf(out[0]).code).toBe('upstream_stream_truncated');
  });

  it('ends a stream whose read fails with an error chunk naming the provider', async () => {
    const out = await pieces(guardSseStream(upstream([EV1, EV2.slice(0, 30)], new TypeError('Network connection lost.')), 'Azure OpenAI'));
    expect(out[0]).toBe(EV1);
    expect(out).toHaveLength(2);
    const error = errorChunkOf(out[1]);
    expect(error).toMatchObject({ type: 'upstream_error', code: 'upstream_unreachable' });
    expect(error.message).toContain('Azure OpenAI');
  });

  it('abandons an upstream that goes quiet, with an upstream_stalled error chunk', async () => {
    const quiet = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(encoder.encode(EV1)) });
    const out = await pieces(guardSseStream(quiet, 'Azure OpenAI', normalizeAzureStreamEvent, 50));
    expect(out[0]).toBe(EV1);
    expect(errorChunkOf(out[1])).toMatchObject({ code: 'upstream_stalled' });
  });

  it('applies a per-event rewrite and drops events it rejects (Azure)', async () => {
    const filter = 'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}\n\n';
    const withNull = EV1.replace('"model":"m",', '"model":"m","system_fingerprint":null,');
    const out = await pieces(guardSseStream(upstream(reads(filter + withNull + DONE, 9)), 'Azure OpenAI', normalizeAzureStreamEvent));
    expect(out.join('')).toBe(EV1 + DONE);
  });

  it('cancels the upstream when the client goes away', async () => {
    let reason: unknown = 'not cancelled';
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(encoder.encode(EV1)),
      cancel: (r) => void (reason = r),
    });
    const reader = guardSseStream(body, 'OpenAI').getReader();
    expect(decoder.decode((await reader.read()).value)).toBe(EV1);
    await reader.cancel('client left');
    expect(reason).toBe('client left');
  });
});

// The fast path for unmodified streams (OpenAI): the runtime pipes the bytes; only the end is JavaScript's.
describe('pipeSseStream', () => {
  it('passes a whole stream through unchanged', async () => {
    const out = await new Response(pipeSseStream(upstream(reads(EV1 + EV2 + DONE, 7)), 'OpenAI')).text();
    expect(out).toBe(EV1 + EV2 + DONE);
  });

  it('ends a stream whose read fails with a blank line, an error chunk and [DONE]', async () => {
    const out = (await pieces(pipeSseStream(upstream([EV1], new TypeError('Network connection lost.')), 'OpenAI'))).join('');
    expect(out.startsWith(EV1 + '\n\n')).toBe(true);
    const error = errorChunkOf(out.slice(EV1.length + 2));
    expect(error).toMatchObject({ type: 'upstream_error', code: 'upstream_unreachable' });
    expect(error.message).toContain('OpenAI');
  });

  it('abandons an upstream that goes quiet: an upstream_stalled error chunk, and the upstream cancelled', async () => {
    let cancelled = false;
    const quiet = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(encoder.encode(EV1)),
      cancel: () => void (cancelled = true),
    });
    const out = await new Response(pipeSseStream(quiet, 'OpenAI', 50)).text();
    expect(out.startsWith(EV1 + '\n\n')).toBe(true);
    expect(errorChunkOf(out.slice(EV1.length + 2))).toMatchObject({ code: 'upstream_stalled', type: 'upstream_error' });
    expect(cancelled).toBe(true);
  });

  it('with a silence limit, still passes a stream that keeps talking through unchanged', async () => {
    const out = await new Response(pipeSseStream(upstream(reads(EV1 + EV2 + DONE, 7)), 'OpenAI', 1_000)).text();
    expect(out).toBe(EV1 + EV2 + DONE);
  });

  it('cancels the upstream when the client goes away', async () => {
    let reason: unknown = 'not cancelled';
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(encoder.encode(EV1)),
      cancel: (r) => void (reason = r),
    });
    const reader = pipeSseStream(body, 'OpenAI').getReader();
    expect(decoder.decode((await reader.read()).value)).toBe(EV1);
    await reader.cancel('client left');
    await new Promise((r) => setTimeout(r, 10));
    expect(reason).not.toBe('not cancelled');
  });
});

describe('openAIStyleError', () => {
  const SECRET = 'sk-live-0123456789abcdefghij';
  const respond = (status: number, body: string, headers: Record<string, string> = {}) => new Response(body, { status, headers });

  it("keeps the caller's param and code on a 400", async () => {
    const error = await openAIStyleError(
      'OpenAI',
      respond(400, JSON.stringify({ error: { message: "Invalid 'messages[0].content'", type: 'invalid_request_error', param: 'messages[0].content', code: 'invalid_value' } })),
      [SECRET],
    );
    expect({ status: error.status, param: error.param, code: error.code }).toEqual({ status: 400, param: 'messages[0].content', code: 'invalid_value' });
    expect(error.message).toContain("Invalid 'messages[0].content'");
  });

  it('reads an Azure error body (code as a string status)', async () => {
    const error = await openAIStyleError('Azure OpenAI', respond(404, '{"error":{"code":"404","message":"Resource not found"}}'), []);
    expect({ status: error.status, code: error.code }).toEqual({ status: 404, code: '404' });
    expect(error.message).toContain('Resource not found');
  });

  it('reduces an HTML error page to a short plain excerpt', async () => {
    const error = await openAIStyleError('OpenAI', respond(502, `<html><body><h1>502 Bad Gateway</h1>${'<p>x</p>'.repeat(200)}</body></html>`), []);
    expect(error.status).toBe(502);
    expect(error.message).toContain('502 Bad Gateway');
    expect(error.message).not.toContain('<');
    expect(error.message.length).toBeLessThan(300);
  });

  it('never repeats a secret the upstream echoed', async () => {
    const error = await openAIStyleError('OpenAI', respond(400, JSON.stringify({ error: { message: `bad header ${SECRET}` } })), [SECRET]);
    expect(error.message).not.toContain(SECRET);
  });

  it('carries retry-after on a 429', async () => {
    const error = await openAIStyleError('OpenAI', respond(429, '{"error":{"message":"slow down","code":"rate_limit_exceeded"}}', { 'retry-after-ms': '2500' }), []);
    expect(error.status).toBe(429);
    expect(error.headers['retry-after']).toBe('3');
  });

  it('copes with an empty body', async () => {
    const error = await openAIStyleError('OpenAI', respond(503, ''), []);
    expect({ status: error.status, code: error.code }).toEqual({ status: 503, code: 'upstream_unavailable' });
  });
});

// The first chunk read before answering, so the router can hand the stream on as it is (no tee, no peek).
describe('pipeStartedSseStream', () => {
  it('passes the whole stream through unchanged, the first read included', async () => {
    const out = await new Response(await pipeStartedSseStream(upstream(reads(EV1 + EV2 + DONE, 7)), 'OpenAI')).text();
    expect(out).toBe(EV1 + EV2 + DONE);
  });

  it('with a silence limit too', async () => {
    const out = await new Response(await pipeStartedSseStream(upstream([EV1, EV2, DONE]), 'OpenAI', 1_000)).text();
    expect(out).toBe(EV1 + EV2 + DONE);
  });

  it('an empty stream stays empty', async () => {
    expect(await new Response(await pipeStartedSseStream(upstream([]), 'OpenAI')).text()).toBe('');
  });

  it('an upstream that fails before its first byte is the attempt’s failure (thrown, retryable)', async () => {
    await expect(pipeStartedSseStream(upstream([], new TypeError('Network connection lost.')), 'OpenAI')).rejects.toMatchObject({
      status: 502,
      code: 'upstream_unreachable',
    });
  });

  it('a stream that is only an error chunk is the failure it carries; the upstream is cancelled', async () => {
    let cancelled = false;
    const lone = 'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"","choices":[],"error":{"message":"Rate limited.","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}\n\ndata: [DONE]\n\n';
    const body = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(encoder.encode(lone)),
      cancel: () => void (cancelled = true),
    });
    await expect(pipeStartedSseStream(body, 'OpenAI')).rejects.toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    await new Promise((r) => setTimeout(r, 0));
    expect(cancelled).toBe(true);
  });

  it('forwardChatCompletion answers a stream marked started', async () => {
    const fetchBefore = globalThis.fetch;
    globalThis.fetch = async () => new Response(upstream([EV1, DONE]), { headers: { 'content-type': 'text/event-stream' } });
    try {
      const result = await forwardChatCompletion({ provider: 'OpenAI', url: 'https://x/v1/chat/completions', headers: {}, body: '{}', stream: true, signal: new AbortController().signal, secrets: [] });
      expect(result).toMatchObject({ stream: true, started: true });
      expect(await new Response((result as { body: ReadableStream<Uint8Array> }).body).text()).toBe(EV1 + DONE);
    } finally {
      globalThis.fetch = fetchBefore;
    }
  });
});

// Azure's streams are rewritten per event; their first output is read before answering too (no tee, no peek in the router).
describe('guardStartedSseStream', () => {
  const FILTER = 'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}\n\n';
  const LONE_ERROR =
    'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"","choices":[],"error":{"message":"Rate limited.","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}\n\ndata: [DONE]\n\n';

  it('rewrites the whole stream as guardSseStream does, the first output included (the filter-only chunk dropped)', async () => {
    const withNull = EV1.replace('"model":"m",', '"model":"m","system_fingerprint":null,');
    const out = await pieces(await guardStartedSseStream(upstream(reads(FILTER + withNull + EV2 + DONE, 9)), 'Azure OpenAI', normalizeAzureStreamEvent));
    expect(out.join('')).toBe(EV1 + EV2 + DONE);
  });

  it('forwards a whole last event that lacks its blank line, then [DONE]', async () => {
    const out = await pieces(await guardStartedSseStream(upstream([EV1, 'data: [DONE]']), 'Azure OpenAI', normalizeAzureStreamEvent));
    expect(out.join('')).toBe(EV1 + DONE);
  });

  it('a stream with nothing but [DONE] after the rewrite ends with it', async () => {
    const out = await pieces(await guardStartedSseStream(upstream([FILTER, DONE]), 'Azure OpenAI', normalizeAzureStreamEvent));
    expect(out.join('')).toBe(DONE);
  });

  it('an upstream that fails before its first event is the attempt’s failure (thrown, retryable)', async () => {
    await expect(
      guardStartedSseStream(upstream([FILTER], new TypeError('Network connection lost.')), 'Azure OpenAI', normalizeAzureStreamEvent),
    ).rejects.toMatchObject({ status: 502, code: 'upstream_unreachable' });
  });

  it('a stream that ends before its first event is thrown as truncated', async () => {
    await expect(guardStartedSseStream(upstream([]), 'Azure OpenAI', normalizeAzureStreamEvent)).rejects.toMatchObject({
      status: 502,
      code: 'upstream_stream_truncated',
    });
  });

  it('an upstream silent before its first event is thrown as stalled, and cancelled', async () => {
    let cancelled = false;
    const quiet = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
    await expect(guardStartedSseStream(quiet, 'Azure OpenAI', normalizeAzureStreamEvent, 50)).rejects.toMatchObject({ code: 'upstream_stalled' });
    await new Promise((r) => setTimeout(r, 0));
    expect(cancelled).toBe(true);
  });

  it('a stream that is only an error chunk is the failure it carries; the upstream is cancelled', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(encoder.encode(LONE_ERROR)),
      cancel: () => void (cancelled = true),
    });
    await expect(guardStartedSseStream(body, 'Azure OpenAI', normalizeAzureStreamEvent)).rejects.toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    await new Promise((r) => setTimeout(r, 0));
    expect(cancelled).toBe(true);
  });

  it('a failure after the first event ends the stream with an error chunk naming the provider', async () => {
    const out = await pieces(await guardStartedSseStream(upstream([EV1], new TypeError('Network connection lost.')), 'Azure OpenAI', normalizeAzureStreamEvent));
    expect(out[0]).toBe(EV1);
    expect(errorChunkOf(out[1])).toMatchObject({ code: 'upstream_unreachable' });
    expect(errorChunkOf(out[1]).message).toContain('Azure OpenAI');
  });

  it('cancels the upstream when the client goes away', async () => {
    let reason: unknown = 'not cancelled';
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(encoder.encode(EV1)),
      cancel: (r) => void (reason = r),
    });
    const reader = (await guardStartedSseStream(body, 'Azure OpenAI', normalizeAzureStreamEvent)).getReader();
    expect(decoder.decode((await reader.read()).value)).toBe(EV1);
    await reader.cancel('client left');
    expect(reason).toBe('client left');
  });

  it('forwardChatCompletion answers a rewritten stream marked started', async () => {
    const fetchBefore = globalThis.fetch;
    globalThis.fetch = async () => new Response(upstream([FILTER, EV1, DONE]), { headers: { 'content-type': 'text/event-stream' } });
    try {
      const result = await forwardChatCompletion({
        provider: 'Azure OpenAI',
        url: 'https://x/openai/deployments/d/chat/completions',
        headers: {},
        body: '{}',
        stream: true,
        signal: new AbortController().signal,
        secrets: [],
        rewriteEvent: normalizeAzureStreamEvent,
      });
      expect(result).toMatchObject({ stream: true, started: true });
      expect(await new Response((result as { body: ReadableStream<Uint8Array> }).body).text()).toBe(EV1 + DONE);
    } finally {
      globalThis.fetch = fetchBefore;
    }
  });
});
