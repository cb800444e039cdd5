import { describe, expect, it } from 'vitest';
import { errorChunk, newCompletionMeta } from '../openai/chunks';
import { GatewayError } from '../openai/errors';
import { SSE_DONE, sseData } from '../openai/sse';
import { upstreamHttpError, upstreamNetworkError } from '../providers/upstream-error';
import { awaitFirstChunk, failedStart, FirstByteTimeout } from './first-chunk';

const enc = new TextEncoder();
const lone = (error: GatewayError) => enc.encode(sseData(errorChunk(newCompletionMeta('m'), error)) + SSE_DONE);

describe('failedStart: a stream that is only its error chunk', () => {
  const cases: [name: string, bytes: Uint8Array, expected: { status: number; code: string | null } | null][] = [
    ['a normal first chunk', enc.encode('data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'), null],
    ['a comment line', enc.encode(': keep-alive\n\n'), null],
    ['not JSON', enc.encode('data: hello\n\n'), null],
    ['an error chunk for a 429', lone(upstreamHttpError('Anthropic', 429, 'slow')), { status: 429, code: 'rate_limit_exceeded' }],
    ['an error chunk for an overload (529)', lone(upstreamHttpError('Anthropic', 529, 'Overloaded')), { status: 503, code: 'upstream_unavailable' }],
    ['pipeSseStream’s form (a blank line first) for a cut connection', enc.encode(`\n\n${new TextDecoder().decode(lone(upstreamNetworkError('OpenAI', new Error('reset'))))}`), { status: 502, code: 'upstream_unreachable' }],
    ['a truncated stream', lone(new GatewayError(502, 'x ended the stream before it finished.', 'upstream_error', null, 'upstream_stream_truncated')), { status: 502, code: 'upstream_stream_truncated' }],
    ['a client error', lone(upstreamHttpError('Gemini', 400, 'bad')), { status: 400, code: 'upstream_rejected_request' }],
  ];
  it.each(cases)('%s', (_name, bytes, expected) => {
    const error = failedStart(bytes);
    expect(error && { status: error.status, code: error.code }).toEqual(expected);
  });
});

describe('awaitFirstChunk', () => {
  const streamOf = (...chunks: string[]) => new ReadableStream<Uint8Array>({ start: (c) => (chunks.forEach((x) => c.enqueue(enc.encode(x))), c.close()) });

  it('gives back the whole stream, the first chunk first', async () => {
    const body = await awaitFirstChunk(streamOf('data: 1\n\n', 'data: 2\n\n', 'data: [DONE]\n\n'), 1000, new AbortController().signal);
    expect(await new Response(body).text()).toBe('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
  });

  it('times out on a silent stream and cancels it', async () => {
    let cancelled = false;
    const silent = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
    await expect(awaitFirstChunk(silent, 5, new AbortController().signal)).rejects.toBeInstanceOf(FirstByteTimeout);
    expect(cancelled).toBe(true);
  });

  it('rejects a stream that is only an error', async () => {
    const error = await awaitFirstChunk(new ReadableStream({ start: (c) => (c.enqueue(lone(upstreamHttpError('Anthropic', 529, 'Overloaded'))), c.close()) }), 1000, new AbortController().signal).catch((e) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.status).toBe(503);
  });

  it('passes a cancel through to the upstream', async () => {
    let cancelled = false;
    const upstream = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(enc.encode('data: 1\n\n')), cancel: () => void (cancelled = true) });
    const body = await awaitFirstChunk(upstream, 1000, new AbortController().signal);
    await body.cancel();
    expect(cancelled).toBe(true);
  });
});
