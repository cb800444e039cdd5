// The tunnel protocol between the gateway (a Durable Object per on-prem model) and the
// agent: binary WebSocket messages, one frame each, many request streams multiplexed
// over one socket. Shared by both sides (the Worker imports it via src/tunnel/protocol.ts),
// so it uses only what both Workers and Node 20 have: Uint8Array, DataView, TextEncoder.
//
// Frame: [type: u8][stream id: u32 big-endian][payload …]
// Bodies travel as raw bytes in BODY frames of at most MAX_CHUNK bytes (never base64,
// never whole), far under the 32 MiB WebSocket message limit.

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 5;
export const MAX_CHUNK = 256 * 1024;
/** Largest frame either side accepts: a body chunk plus its header, or a JSON head. */
export const MAX_FRAME = MAX_CHUNK + HEADER_BYTES;

export const FrameType = Object.freeze({
  HELLO: 0x01, // agent → gateway, stream 0: {version, model, engine, capacity, agent}
  WELCOME: 0x02, // gateway → agent, stream 0: {version}
  PING: 0x03, // either way, stream 0; payload echoed in PONG
  PONG: 0x04,
  REQUEST_HEAD: 0x10, // gateway → agent: {method, path, headers}
  REQUEST_BODY: 0x11, // gateway → agent: bytes
  REQUEST_END: 0x12, // gateway → agent
  RESPONSE_HEAD: 0x20, // agent → gateway: {status, headers}
  RESPONSE_BODY: 0x21, // agent → gateway: bytes
  RESPONSE_END: 0x22, // agent → gateway
  CANCEL: 0x30, // gateway → agent: the client went away; abort the engine request
  ERROR: 0x31, // either way: {status, message, code}; ends the stream (stream 0: the connection)
});

const NAMES = new Map(Object.entries(FrameType).map(([k, v]) => [v, k]));
const JSON_TYPES = new Set([FrameType.HELLO, FrameType.WELCOME, FrameType.REQUEST_HEAD, FrameType.RESPONSE_HEAD, FrameType.ERROR]);
const CONNECTION_TYPES = new Set([FrameType.HELLO, FrameType.WELCOME, FrameType.PING, FrameType.PONG]);

export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * @param {number} type
 * @param {number} streamId
 * @param {Uint8Array} [payload]
 * @returns {Uint8Array}
 */
export function encodeFrame(type, streamId, payload = new Uint8Array(0)) {
  if (!NAMES.has(type)) throw new ProtocolError(`unknown frame type ${type}`);
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffffffff) throw new ProtocolError(`bad stream id ${streamId}`);
  if (payload.byteLength > MAX_CHUNK) throw new ProtocolError(`payload of ${payload.byteLength} bytes exceeds ${MAX_CHUNK}; split it with chunksOf`);
  const frame = new Uint8Array(HEADER_BYTES + payload.byteLength);
  frame[0] = type;
  new DataView(frame.buffer).setUint32(1, streamId);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/** A frame whose payload is JSON (hello, heads, errors). */
export function encodeJsonFrame(type, streamId, value) {
  return encodeFrame(type, streamId, encoder.encode(JSON.stringify(value)));
}

/**
 * Decodes and checks one frame; a frame that breaks the protocol throws ProtocolError.
 * @param {ArrayBuffer|Uint8Array} data
 * @returns {{type: number, name: string, streamId: number, payload: Uint8Array, json?: any}}
 */
export function decodeFrame(data) {
  if (typeof data === 'string') throw new ProtocolError('text message: frames are binary');
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteLength < HEADER_BYTES) throw new ProtocolError(`frame of ${bytes.byteLength} bytes is shorter than its ${HEADER_BYTES}-byte header`);
  if (bytes.byteLength > MAX_FRAME) throw new ProtocolError(`frame of ${bytes.byteLength} bytes exceeds ${MAX_FRAME}`);
  const type = bytes[0];
  const name = NAMES.get(type);
  if (!name) throw new ProtocolError(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
  const streamId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  // ERROR may be on stream 0 (about the connection) or on a stream.
  if (CONNECTION_TYPES.has(type) && streamId !== 0) throw new ProtocolError(`${name} must be on stream 0`);
  if (!CONNECTION_TYPES.has(type) && type !== FrameType.ERROR && streamId === 0) throw new ProtocolError(`${name} needs a stream id other than 0`);
  const payload = bytes.subarray(HEADER_BYTES);
  const frame = { type, name, streamId, payload };
  if (JSON_TYPES.has(type)) {
    try {
      frame.json = JSON.parse(decoder.decode(payload));
    } catch {
      throw new ProtocolError(`${name} payload is not JSON`);
    }
    if (typeof frame.json !== 'object' || frame.json === null || Array.isArray(frame.json)) throw new ProtocolError(`${name} payload must be a JSON object`);
  }
  return frame;
}

/** Splits bytes into MAX_CHUNK-sized views (no copies). */
export function* chunksOf(bytes, size = MAX_CHUNK) {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, Math.min(i + size, bytes.byteLength));
}

/**
 * Checks an agent's hello. @returns {{version: number, model: string, engine: string, capacity: number, agent: string}}
 */
export function parseHello(json) {
  if (json.version !== PROTOCOL_VERSION) throw new ProtocolError(`protocol version ${JSON.stringify(json.version)} is not supported (this gateway speaks ${PROTOCOL_VERSION})`);
  if (typeof json.model !== 'string' || !json.model) throw new ProtocolError('hello.model must be the model name');
  if (!Number.isInteger(json.capacity) || json.capacity < 1) throw new ProtocolError('hello.capacity must be a positive integer');
  return {
    version: json.version,
    model: json.model,
    engine: typeof json.engine === 'string' ? json.engine : 'unknown',
    capacity: json.capacity,
    agent: typeof json.agent === 'string' ? json.agent.slice(0, 200) : 'agent',
  };
}

/** Delay before reconnect attempt n (n ≥ 1): exponential with full jitter, so many agents do not reconnect in step. */
export function reconnectDelay(n, initialMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, n - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
