import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IncludeUsageScanner, withIncludeUsage } from '../../local-agent/src/include-usage.js';
import { includeUsageStream } from '../../local-agent/src/tunnel.js';

// The agent asks a stream for its usage chunk on the gateway's behalf: only for a body whose
// top-level "stream" is true and that has no stream_options of its own (vLLM refuses
// stream_options without stream=True), inserted before the closing brace.

const ADDED = ',"stream_options":{"include_usage":true}';
const cases: [name: string, body: string, expected: string | null][] = [
  ['a streamed request', '{"model":"m","stream":true,"messages":[]}', `{"model":"m","stream":true,"messages":[]${ADDED}}`],
  ['whitespace and a trailing newline', '{ "model" : "m" , "stream" : true }\n', `{ "model" : "m" , "stream" : true ${ADDED}}\n`],
  ['stream last, after an image', '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],"stream":true}', `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],"stream":true${ADDED}}`],
  ['stream: false', '{"model":"m","stream":false}', null],
  ['no stream', '{"model":"m","messages":[]}', null],
  ['stream given twice, the last false (as JSON parsers take it)', '{"stream":true,"stream":false}', null],
  ['its own stream_options (the client chose)', '{"model":"m","stream":true,"stream_options":{"include_usage":false}}', null],
  ['its own stream_options before stream', '{"stream_options":{"continuous_usage_stats":true},"stream":true}', null],
  ['"stream":true only inside nested objects', '{"model":"m","metadata":{"stream":true},"messages":[{"role":"user","content":"x"}]}', null],
  ['"stream":true only inside a string', '{"model":"m","messages":[{"role":"user","content":"{\\"stream\\":true}"}]}', null],
  ['stream as a string', '{"model":"m","stream":"true"}', null],
  ['escaped quotes and braces in strings', '{"messages":[{"role":"user","content":"a \\"}\\" b\\\\"}],"stream":true}', `{"messages":[{"role":"user","content":"a \\"}\\" b\\\\"}],"stream":true${ADDED}}`],
  ['not an object', '[{"stream":true}]', null],
  ['bytes after the object', '{"stream":true}x', null],
  ['an unfinished object', '{"stream":true', null],
  ['an empty body', '', null],
];

const decode = (b: Uint8Array | null) => (b ? Buffer.from(b).toString('utf8') : null);

describe('withIncludeUsage (a whole body)', () => {
  it.each(cases)('%s', (_name, body, expected) => {
    expect(decode(withIncludeUsage(Buffer.from(body)))).toBe(expected);
    if (expected) expect(JSON.parse(expected).stream_options).toEqual(JSON.parse(body).stream_options ?? { include_usage: true });
  });
});

async function throughStream(body: string, size: number): Promise<{ text: string; added: boolean }> {
  const bytes = Buffer.from(body);
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  const adding = includeUsageStream();
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(pieces).pipe(adding.stream)) out.push(chunk);
  return { text: Buffer.concat(out).toString('utf8'), added: adding.added() };
}

describe('includeUsageStream (a body streamed in pieces of any size)', () => {
  it.each(cases)('%s', async (_name, body, expected) => {
    for (const size of [1, 2, 3, 7, 1000]) {
      const { text, added } = await throughStream(body, size);
      expect(text).toBe(expected ?? body);
      expect(added).toBe(expected !== null);
    }
  });

  it('passes the bytes before the closing brace on at once (only the brace waits for the end)', () => {
    const scanner = new IncludeUsageScanner();
    expect(scanner.feed(Buffer.from('{"stream":true,"messages":[{"content":"'))).toBe(-1);
    expect(scanner.feed(Buffer.from('x}"}]} '))).toBe(5);
    expect(scanner.wanted).toBe(true);
  });
});
