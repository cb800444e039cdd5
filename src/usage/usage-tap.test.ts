import { describe, expect, it } from 'vitest';
import type { StreamEnd } from '../openai/chunk-stream';
import { tapUsage } from './usage-tap';

const enc = new TextEncoder();
const usage = { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 };
const content = (t: string) => `data: {"choices":[{"index":0,"delta":{"content":${JSON.stringify(t)}},"finish_reason":null}],"usage":null}\n\n`;
const usageEvent = `data: {"choices":[],"usage":${JSON.stringify(usage)}}\n\n`;
const DONE = 'data: [DONE]\n\n';

function source(parts: (string | Uint8Array)[], fail?: Error): ReadableStream<Uint8Array> & { cancelled?: unknown } {
  let i = 0;
  const stream: ReadableStream<Uint8Array> & { cancelled?: unknown } = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) {
        const p = parts[i++];
        controller.enqueue(typeof p === 'string' ? enc.encode(p) : p);
      } else if (fail) controller.error(fail);
      else controller.close();
    },
    cancel(reason) {
      stream.cancelled = reason ?? true;
    },
  });
  return stream;
}

async function run(parts: (string | Uint8Array)[], strip: boolean) {
  const ends: StreamEnd[] = [];
  const out = tapUsage(source(parts), { strip, onEnd: (e) => ends.push(e) });
  const text = await new Response(out).text();
  return { text, ends };
}

describe('tapUsage', () => {
  const all = [content('Hel'), content('lo'), usageEvent, DONE];
  const cases: [name: string, parts: string[], strip: boolean, text: string, end: StreamEnd][] = [
    ['passes everything on and finds the usage chunk', all, false, all.join(''), { usage, outcome: 'done', errorChunk: false }],
    ['strip: the usage chunk is taken out, the rest unchanged', all, true, content('Hel') + content('lo') + DONE, { usage, outcome: 'done', errorChunk: false }],
    [
      'strip: events split across chunks at any byte',
      (() => {
        const s = all.join('');
        return [s.slice(0, 5), s.slice(5, 90), s.slice(90, 200), s.slice(200)];
      })(),
      true,
      content('Hel') + content('lo') + DONE,
      { usage, outcome: 'done', errorChunk: false },
    ],
    ['strip: content that happens to contain [] is left alone', [content('x = []'), usageEvent, DONE], true, content('x = []') + DONE, { usage, outcome: 'done', errorChunk: false }],
    ['strip: CRLF events', [content('a').replace(/\n/g, '\r\n'), usageEvent.replace(/\n/g, '\r\n'), DONE], true, content('a').replace(/\n/g, '\r\n') + DONE, { usage, outcome: 'done', errorChunk: false }],
    ['strip: several events in one chunk', [all.join('')], true, content('Hel') + content('lo') + DONE, { usage, outcome: 'done', errorChunk: false }],
    ['no usage in the stream', [content('a'), DONE], false, content('a') + DONE, { usage: null, outcome: 'done', errorChunk: false }],
    [
      'a stream that ended with an error chunk',
      [content('a'), 'data: {"error":{"message":"boom","type":"upstream_error","param":null,"code":null}}\n\n', DONE],
      true,
      `${content('a')}data: {"error":{"message":"boom","type":"upstream_error","param":null,"code":null}}\n\n${DONE}`,
      { usage: null, outcome: 'done', errorChunk: true },
    ],
    [
      'a JSON body',
      ['{"id":"x","choices":[{"index":0}],', '"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}'],
      false,
      '{"id":"x","choices":[{"index":0}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}',
      { usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }, outcome: 'done', errorChunk: false },
    ],
    [
      'a long stream: only the tail is kept, the usage still found',
      [...Array.from({ length: 500 }, (_, i) => content(`word ${i} `)), usageEvent, DONE],
      false,
      [...Array.from({ length: 500 }, (_, i) => content(`word ${i} `)), usageEvent, DONE].join(''),
      { usage, outcome: 'done', errorChunk: false },
    ],
  ];
  it.each(cases)('%s', async (_name, parts, strip, text, end) => {
    const result = await run(parts, strip);
    expect(result.text).toBe(text);
    expect(result.ends).toEqual([end]);
  });

  it('strip: a multi-byte character split between chunks arrives whole', async () => {
    const bytes = enc.encode(content('héllo ✓') + usageEvent + DONE);
    const at = bytes.indexOf(0xc3) + 1; // inside "é"
    const result = await run([bytes.slice(0, at), bytes.slice(at)], true);
    expect(result.text).toBe(content('héllo ✓') + DONE);
  });

  it('strip: whole unchanged chunks are the upstream bytes themselves', async () => {
    const chunk = enc.encode(content('a'));
    const reader = tapUsage(source([chunk]), { strip: true, onEnd: () => {} }).getReader();
    expect((await reader.read()).value).toBe(chunk);
  });

  it('the client going away cancels the upstream and reports once', async () => {
    const ends: StreamEnd[] = [];
    const upstream = source([content('a'), content('b'), usageEvent, DONE]);
    const reader = tapUsage(upstream, { strip: false, onEnd: (e) => ends.push(e) }).getReader();
    await reader.read();
    await reader.cancel('gone');
    expect(upstream.cancelled).toBe('gone');
    expect(ends).toEqual([{ usage: null, outcome: 'cancelled', errorChunk: false }]);
  });

  it('a client gone while nothing reads (the runtime cancels nothing then): its signal ends the tap, once', async () => {
    const ends: StreamEnd[] = [];
    const upstream = source([content('a'), content('b'), usageEvent, DONE]);
    const client = new AbortController();
    const out = tapUsage(upstream, { strip: false, onEnd: (e) => ends.push(e), clientSignal: client.signal });
    const reader = out.getReader();
    await reader.read();
    client.abort();
    await new Promise((r) => setTimeout(r, 0));
    expect(upstream.cancelled).toBeDefined();
    expect(ends).toEqual([{ usage: null, outcome: 'cancelled', errorChunk: false }]);
    await expect(reader.read()).rejects.toThrow('the client went away');
    expect(ends).toHaveLength(1);
  });

  it('an upstream failure errors the stream and reports once', async () => {
    const ends: StreamEnd[] = [];
    const out = tapUsage(source([content('a')], new Error('reset')), { strip: true, onEnd: (e) => ends.push(e) });
    await expect(new Response(out).text()).rejects.toThrow();
    expect(ends).toEqual([{ usage: null, outcome: 'errored', errorChunk: false }]);
  });
});
