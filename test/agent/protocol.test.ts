import { describe, expect, it } from 'vitest';
import {
  FrameType, MAX_CHUNK, ProtocolError, chunksOf, decodeFrame, encodeFrame, encodeJsonFrame, encodeWholeFrame, parseHello, reconnectDelay,
} from '../../local-agent/src/protocol.js';

const bytes = (...b: number[]) => new Uint8Array(b);

describe('tunnel frames', () => {
  it.each([
    ['request body bytes', FrameType.REQUEST_BODY, 7, bytes(0, 1, 255), '11 00 00 00 07 00 01 ff'],
    ['end, no payload', FrameType.RESPONSE_END, 0xffffffff, bytes(), '22 ff ff ff ff'],
    ['ping on stream 0', FrameType.PING, 0, bytes(42), '03 00 00 00 00 2a'],
  ] as [string, number, number, Uint8Array, string][])('%s round-trips', (_n, type, id, payload, hex) => {
    const frame = encodeFrame(type, id, payload);
    expect(Buffer.from(frame).toString('hex').match(/../g)!.join(' ')).toBe(hex);
    const decoded = decodeFrame(frame);
    expect(decoded).toMatchObject({ type, streamId: id });
    expect([...decoded.payload]).toEqual([...payload]);
  });

  it('ERROR may be about the connection (stream 0) or one stream', () => {
    expect(decodeFrame(encodeJsonFrame(FrameType.ERROR, 0, { message: 'bad' })).json.message).toBe('bad');
    expect(decodeFrame(encodeJsonFrame(FrameType.ERROR, 4, { status: 502 })).streamId).toBe(4);
  });

  it('JSON heads decode to objects', () => {
    const frame = decodeFrame(encodeJsonFrame(FrameType.REQUEST_HEAD, 3, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }));
    expect(frame.name).toBe('REQUEST_HEAD');
    expect(frame.json.path).toBe('/v1/chat/completions');
  });

  it('a whole request or response is one frame: head length, head, body', () => {
    const frame = encodeWholeFrame(FrameType.REQUEST, 7, { method: 'POST', path: '/v1/chat/completions' }, bytes(1, 2, 3))!;
    const decoded = decodeFrame(frame);
    expect(decoded).toMatchObject({ name: 'REQUEST', streamId: 7, json: { method: 'POST', path: '/v1/chat/completions' } });
    expect([...decoded.body!]).toEqual([1, 2, 3]);
    expect(decodeFrame(encodeWholeFrame(FrameType.RESPONSE, 8, { status: 200 }, bytes())!).body!.byteLength).toBe(0);
    // Too big for one frame: the caller sends head, body and end instead.
    expect(encodeWholeFrame(FrameType.RESPONSE, 8, { status: 200 }, new Uint8Array(MAX_CHUNK))).toBeNull();
  });

  it('CAPACITY is a connection frame with a JSON payload', () => {
    expect(decodeFrame(encodeJsonFrame(FrameType.CAPACITY, 0, { capacity: 3 })).json).toEqual({ capacity: 3 });
    expect(() => decodeFrame(encodeJsonFrame(FrameType.CAPACITY, 2, { capacity: 3 }))).toThrow(/CAPACITY must be on stream 0/);
  });

  it('decodes from an ArrayBuffer and from a view into a larger buffer', () => {
    const frame = encodeFrame(FrameType.RESPONSE_BODY, 9, bytes(1, 2));
    expect(decodeFrame(frame.buffer as ArrayBuffer).streamId).toBe(9);
    const bigger = new Uint8Array(frame.length + 4);
    bigger.set(frame, 4);
    expect(decodeFrame(bigger.subarray(4)).streamId).toBe(9);
  });

  it.each([
    ['a text message', 'hello', /frames are binary/],
    ['too short', bytes(0x11, 0, 0), /shorter than its 5-byte header/],
    ['unknown type', bytes(0x99, 0, 0, 0, 1), /unknown frame type 0x99/],
    ['stream frame on stream 0', bytes(0x11, 0, 0, 0, 0), /REQUEST_BODY needs a stream id other than 0/],
    ['end on stream 0', bytes(0x22, 0, 0, 0, 0), /RESPONSE_END needs a stream id other than 0/],
    ['connection frame on a stream', bytes(0x03, 0, 0, 0, 5), /PING must be on stream 0/],
    ['head that is not JSON', new Uint8Array([0x10, 0, 0, 0, 1, ...Buffer.from('{nope')]), /REQUEST_HEAD payload is not JSON/],
    ['head that is a JSON array', new Uint8Array([0x20, 0, 0, 0, 1, ...Buffer.from('[1]')]), /RESPONSE_HEAD payload must be a JSON object/],
    ['whole frame whose head length overruns it', new Uint8Array([0x13, 0, 0, 0, 1, 0, 0, 0, 9, 0x7b, 0x7d]), /REQUEST head length does not fit the frame/],
    ['whole frame whose head is not JSON', new Uint8Array([0x23, 0, 0, 0, 1, 0, 0, 0, 2, 0x7b, 0x7b]), /RESPONSE head is not JSON/],
    ['oversized frame', new Uint8Array(MAX_CHUNK + 6).fill(0x11, 0, 1).fill(1, 4, 5), /exceeds/],
  ] as [string, any, RegExp][])('rejects %s', (_n, data, message) => {
    expect(() => decodeFrame(data)).toThrow(ProtocolError);
    expect(() => decodeFrame(data)).toThrow(message);
  });

  it('will not encode a payload over MAX_CHUNK; chunksOf splits without copying', () => {
    const big = new Uint8Array(MAX_CHUNK * 2 + 10);
    expect(() => encodeFrame(FrameType.REQUEST_BODY, 1, big)).toThrow(/split it with chunksOf/);
    const chunks = [...chunksOf(big)];
    expect(chunks.map((c) => c.byteLength)).toEqual([MAX_CHUNK, MAX_CHUNK, 10]);
    expect(chunks[1].buffer).toBe(big.buffer);
    expect([...chunksOf(new Uint8Array(0))]).toEqual([]);
  });
});

describe('parseHello', () => {
  it('accepts a version-1 hello', () => {
    expect(parseHello({ version: 1, model: 'qwen', engine: 'vllm', capacity: 4, agent: 'gpu-box-1' })).toEqual({ version: 1, model: 'qwen', engine: 'vllm', capacity: 4, agent: 'gpu-box-1', features: [] });
    // Features either side does not know are ignored, so both can grow independently.
    expect(parseHello({ version: 1, model: 'q', capacity: 1, features: ['whole', 'future'] }).features).toEqual(['whole']);
  });
  it.each([
    [{ version: 2, model: 'q', capacity: 1 }, /protocol version 2 is not supported/],
    [{ version: 1, capacity: 1 }, /hello.model/],
    [{ version: 1, model: 'q', capacity: 0 }, /hello.capacity/],
  ])('rejects %j', (hello, message) => expect(() => parseHello(hello)).toThrow(message));
});

describe('reconnectDelay: jittered exponential backoff', () => {
  it.each([
    [1, 0, 50], [1, 1, 100], [3, 0, 200], [3, 1, 400], [10, 0.5, 750], [10, 1, 1000],
  ])('attempt %i, random %f → %i ms', (n, r, ms) => expect(reconnectDelay(n, 100, 1000, () => r)).toBe(ms));
});
