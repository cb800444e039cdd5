import { describe, expect, it } from 'vitest';
import { addUsageForAccounting, clientAskedForUsage, openAIChunkStream, readFirstEvent, streamEndReport, type StreamEnd, type StreamTranslator } from './chunk-stream';
import { chunk, errorChunk } from './chunks';
import { GatewayError } from './errors';
import { parseSse, type SseEvent } from './sse';
import type { ChatCompletionRequest } from './types';
import { SseEventSource } from './sse-event-source';

async function* events(values: number[], fail?: Error) {
  for (const v of values) yield v;
  if (fail) throw fail;
}

async function drain<E>(it: AsyncIterator<E>): Promise<E[]> {
  const out: E[] = [];
  for (let n = await it.next(); !n.done; n = await it.next()) out.push(n.value);
  return out;
}

describe('readFirstEvent', () => {
  it('reads the first event up front and replays it before the rest', async () => {
    const { first, events: all } = await readFirstEvent(events([1, 2, 3]));
    expect(first).toEqual({ done: false, value: 1 });
    expect(await drain(all)).toEqual([1, 2, 3]);
  });

  it('passes an empty upstream through', async () => {
    const { first, events: all } = await readFirstEvent(events([]));
    expect(first.done).toBe(true);
    expect(await drain(all)).toEqual([]);
  });

  it('rejects when the first event fails, so the attempt fails as a whole', async () => {
    await expect(readFirstEvent(events([], new Error('overloaded')))).rejects.toThrow('overloaded');
  });

  it('forwards return() to the upstream iterator (a client that leaves)', async () => {
    let closed = false;
    const upstream = (async function* () {
      try {
        yield 1;
        yield 2;
      } finally {
        closed = true;
      }
    })();
    const { events: it } = await readFirstEvent(upstream);
    expect((await it.next()).value).toBe(1);
    await it.return?.();
    expect(closed).toBe(true);
  });
});

describe('openAIChunkStream', () => {
  const encoder = new TextEncoder();
  const meta = { id: 'chatcmpl-1', created: 1, model: 'm' };
  // Each number n → one content chunk "n"; 0 → nothing (like a ping); onEnd → a usage-free final chunk.
  const translator: StreamTranslator<number> = {
    onEvent: (n) => (n === 0 ? [] : [chunk(meta, [{ index: 0, delta: { content: String(n) }, logprobs: null, finish_reason: null }])]),
    onEnd: () => [chunk(meta, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }])],
    errorChunk: (error) => errorChunk(meta, error),
  };
  const toGatewayError = (error: unknown) => new GatewayError(502, String((error as Error).message), 'upstream_error', null, 'upstream_error');
  // One chunk per read; then the end, or `fail`.
  const body = (chunks: string[], fail?: Error) => {
    let i = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]));
        else if (fail) controller.error(fail);
        else controller.close();
      },
    });
  };
  const decode = (e: SseEvent) => {
    if (e.data === 'bad') throw new Error('bad event');
    return Number(e.data);
  };
  const sources = {
    'decoded SSE (SseEventSource)': (chunks: string[], fail?: Error) => new SseEventSource(parseSse(body(chunks, fail)), decode),
    'an async iterator': (chunks: string[], fail?: Error) => {
      const source = new SseEventSource(parseSse(body(chunks, fail)), decode);
      return { next: () => source.next(), return: () => source.return() } as AsyncIterator<number>;
    },
  };
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const reader = stream.getReader();
    const pieces: string[] = [];
    const decoder = new TextDecoder();
    for (let r = await reader.read(); !r.done; r = await reader.read()) pieces.push(decoder.decode(r.value));
    return pieces;
  };
  const contents = (text: string) =>
    text
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)))
      .map((c) => c.error?.message ?? c.choices[0]?.delta.content ?? c.choices[0]?.finish_reason);

  for (const [name, make] of Object.entries(sources)) {
    describe(`from ${name}`, () => {
      it('translates every event, skips empty ones, and ends with the end chunks and [DONE]', async () => {
        const pieces = await read(openAIChunkStream(make(['data: 1\n\ndata: 0\n\n', 'data: 2\n\n', 'data: 3\n\n']), translator, toGatewayError, () => {}));
        const all = pieces.join('');
        expect(contents(all)).toEqual(['1', '2', '3', 'stop']);
        expect(all.endsWith('data: [DONE]\n\n')).toBe(true);
      });

      it('an event that fails after others: those are sent, then the error chunk and [DONE]; the upstream is aborted', async () => {
        let aborted = false;
        const all = (await read(openAIChunkStream(make(['data: 1\n\ndata: 2\n\ndata: bad\n\ndata: 3\n\n']), translator, toGatewayError, () => (aborted = true)))).join('');
        expect(contents(all)).toEqual(['1', '2', 'bad event']);
        expect(all.endsWith('data: [DONE]\n\n')).toBe(true);
        expect(aborted).toBe(true);
      });

      it('a read that fails mid-stream ends with the error chunk', async () => {
        const all = (await read(openAIChunkStream(make(['data: 1\n\n'], new Error('connection reset')), translator, toGatewayError, () => {}))).join('');
        expect(contents(all)).toEqual(['1', 'connection reset']);
      });

      it('a client that cancels aborts the upstream', async () => {
        let aborted = false;
        const stream = openAIChunkStream(make(['data: 1\n\n', 'data: 2\n\n']), translator, toGatewayError, () => (aborted = true));
        const reader = stream.getReader();
        await reader.read();
        await reader.cancel();
        expect(aborted).toBe(true);
      });
    });
  }

  describe('onEnd: how the stream ended, with the usage the translator knows', () => {
    const usage = { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 };
    // Usage appears with the first event, as Claude's message_start brings it.
    const counting = (): StreamTranslator<number> => {
      let seen = false;
      return { ...translator, onEvent: (n) => ((seen = true), translator.onEvent(n)), usage: () => (seen ? usage : null) };
    };
    const make = sources['decoded SSE (SseEventSource)'];
    const ends = async (stream: (onEnd: (end: StreamEnd) => void) => ReadableStream<Uint8Array>, consume: (s: ReadableStream<Uint8Array>) => Promise<unknown> = read) => {
      const { ended, onEnd } = streamEndReport();
      const reports: StreamEnd[] = [];
      await consume(stream((end) => (reports.push(end), onEnd(end))));
      return { first: await ended, reports };
    };

    it('read to the end: done, with the usage', async () => {
      const { first, reports } = await ends((onEnd) => openAIChunkStream(make(['data: 1\n\n', 'data: 2\n\n']), counting(), toGatewayError, () => {}, { onEnd }));
      expect(first).toEqual({ usage, outcome: 'done', errorChunk: false });
      expect(reports).toHaveLength(1);
    });

    it('a failure after the start: done with the error chunk, the usage so far', async () => {
      const { first } = await ends((onEnd) => openAIChunkStream(make(['data: 1\n\n'], new Error('reset')), counting(), toGatewayError, () => {}, { onEnd }));
      expect(first).toEqual({ usage, outcome: 'done', errorChunk: true });
    });

    it('a client that leaves: cancelled', async () => {
      const { first, reports } = await ends(
        (onEnd) => openAIChunkStream(make(['data: 1\n\n', 'data: 2\n\n']), counting(), toGatewayError, () => {}, { onEnd }),
        async (stream) => {
          const reader = stream.getReader();
          await reader.read();
          await reader.cancel();
        },
      );
      expect(first).toEqual({ usage, outcome: 'cancelled', errorChunk: false });
      expect(reports).toHaveLength(1);
    });

    it('a client gone while nothing reads: the client signal ends it as cancelled, once, and aborts the upstream', async () => {
      const client = new AbortController();
      const reports: StreamEnd[] = [];
      let aborted = 0;
      // An upstream that sends two events and then stays open.
      const open = new SseEventSource(parseSse(new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(encoder.encode('data: 1\n\ndata: 2\n\n')) })), decode);
      const stream = openAIChunkStream(open, counting(), toGatewayError, () => aborted++, {
        onEnd: (end) => reports.push(end),
        clientSignal: client.signal,
      });
      const reader = stream.getReader();
      await reader.read();
      client.abort();
      await expect(reader.read()).rejects.toThrow('the client went away');
      await new Promise((r) => setTimeout(r, 0));
      expect(reports).toEqual([{ usage, outcome: 'cancelled', errorChunk: false }]);
      expect(aborted).toBe(1);
    });

    it('a translator without usage reports null', async () => {
      const { first } = await ends((onEnd) => openAIChunkStream(make(['data: 1\n\n']), translator, toGatewayError, () => {}, { onEnd }));
      expect(first).toEqual({ usage: null, outcome: 'done', errorChunk: false });
    });
  });

  it('decoded SSE: the events of one read go out as one chunk', async () => {
    const pieces = await read(openAIChunkStream(sources['decoded SSE (SseEventSource)'](['data: 1\n\ndata: 2\n\ndata: 3\n\n', 'data: 4\n\n']), translator, toGatewayError, () => {}));
    expect(pieces.map(contents)).toEqual([['1', '2', '3'], ['4'], ['stop']]);
  });

  it('an upstream silent for the idle limit ends with upstream_stalled', async () => {
    const silent = new SseEventSource(parseSse(new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(encoder.encode('data: 1\n\n')) })), decode);
    const all = (await read(openAIChunkStream(silent, translator, toGatewayError, () => {}, { idle: { ms: 30, provider: 'Mock' } }))).join('');
    expect(contents(all)).toEqual(['1', 'Mock sent nothing for 0.03 s; the stream was abandoned.']);
  });
});

describe('usage the gateway asks for on its own account', () => {
  const request = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, ...extra });

  it('a translated stream ends with the usage chunk only when the client asked for it', () => {
    expect(clientAskedForUsage(request({ stream_options: { include_usage: true } }))).toBe(true);
    expect(clientAskedForUsage(request())).toBe(false);
    expect(clientAskedForUsage(request({ stream: false, stream_options: { include_usage: true } }))).toBe(false);
    const added = request({ stream_options: { include_usage: false } });
    addUsageForAccounting(added);
    expect(added.stream_options).toEqual({ include_usage: true });
    expect(clientAskedForUsage(added)).toBe(false);
    // The mark survives the copies the gateway makes (capabilities/adapt-request.ts spreads the request)…
    expect(clientAskedForUsage({ ...added })).toBe(false);
  });

  it('the mark never reaches an upstream: the serialised body asks for usage and carries nothing else', () => {
    const added = request();
    addUsageForAccounting(added);
    expect(JSON.parse(JSON.stringify(added))).toEqual({ ...request(), stream_options: { include_usage: true } });
  });
});
