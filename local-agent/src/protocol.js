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
/** Request body bytes per flow-control credit (agents and gateways that offer "flow"). */
export const BODY_WINDOW = 512 * 1024;

export const FrameType = Object.freeze({
  HELLO: 0x01, // agent → gateway, stream 0: {version, model, engine, capacity, agent}
  WELCOME: 0x02, // gateway → agent, stream 0: {version}
  PING: 0x03, // either way, stream 0; payload echoed in PONG
  PONG: 0x04,
  CAPACITY: 0x05, // agent → gateway, stream 0: {capacity}: replicas became ready or died since the hello (0: none ready now)
  // gateway → agent: {method, path, headers, usage?}. usage: true: the gateway counts this request's tokens, so the agent
  // asks a streamed request's engine for its usage chunk (include-usage.js) and says so in the response head's
  // x-switchboard-usage-added header; agents that do not know it ignore it.
  REQUEST_HEAD: 0x10,
  REQUEST_BODY: 0x11, // gateway → agent: bytes
  REQUEST_END: 0x12, // gateway → agent
  // A whole request in one frame (head, body and end): [head length: u32][head JSON][body]. Sent only to agents whose hello offers the "whole" feature.
  REQUEST: 0x13,
  RESPONSE_HEAD: 0x20, // agent → gateway: {status, headers}
  RESPONSE_BODY: 0x21, // agent → gateway: bytes
  RESPONSE_END: 0x22, // agent → gateway
  RESPONSE: 0x23, // agent → gateway: a whole response in one frame, laid out as REQUEST; only when the welcome offers "whole"
  CANCEL: 0x30, // gateway → agent: the client went away; abort the engine request
  ERROR: 0x31, // either way: {status, message, code}; ends the stream (stream 0: the connection)
  // Flow control, when both sides offer "flow". Gateway → agent: PAUSE when the client reads this stream's
  // response slower than the engine writes it (the agent stops reading the engine's answer), RESUME when it
  // caught up. Agent → gateway: RESUME grants one more BODY_WINDOW of this stream's request body, sent once the
  // previous window reached the engine; the gateway keeps at most two windows unacknowledged.
  PAUSE: 0x32,
  RESUME: 0x33,
});

/**
 * Optional features either side may offer (hello: the agent; welcome: the gateway), each
 * used only when the other side offered it too, so old agents and gateways still agree.
 * "whole": a request or response that fits one frame travels as one WebSocket message
 * (REQUEST / RESPONSE) rather than head, body and end as three: each message is a write
 * and a read on both sides. "flow": PAUSE / RESUME per stream, so a slow client makes the
 * agent stop reading from the engine (and a slow engine makes the gateway stop sending a
 * body) instead of either side buffering without bound. "heartbeat": the agent's heartbeat
 * is the text message HEARTBEAT_PING, which the gateway's runtime answers (HEARTBEAT_PONG) on
 * its own, so an idle model's Durable Object can hibernate between requests; without it,
 * binary PING / PONG frames, which wake it.
 */
export const FEATURES = Object.freeze(['whole', 'flow', 'heartbeat']);
export const HEARTBEAT_PING = 'ping';
export const HEARTBEAT_PONG = 'pong';

const NAMES = new Map(Object.entries(FrameType).map(([k, v]) => [v, k]));
const WHOLE_TYPES = new Set([FrameType.REQUEST, FrameType.RESPONSE]);
const JSON_TYPES = new Set([FrameType.HELLO, FrameType.WELCOME, FrameType.CAPACITY, FrameType.REQUEST_HEAD, FrameType.RESPONSE_HEAD, FrameType.ERROR]);
const CONNECTION_TYPES = new Set([FrameType.HELLO, FrameType.WELCOME, FrameType.PING, FrameType.PONG, FrameType.CAPACITY]);

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
  frame.set(payload, HEADER_BYTES);
  return writeFrameHeader(frame, type, streamId);
}

/**
 * Writes the header into the first HEADER_BYTES of `frame`, whose payload is already in
 * place after it: a body read straight into a frame's buffer is sent without a copy.
 * @param {Uint8Array} frame @param {number} type @param {number} streamId @returns {Uint8Array} frame
 */
export function writeFrameHeader(frame, type, streamId) {
  frame[0] = type;
  new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES).setUint32(1, streamId);
  return frame;
}

/**
 * A whole request or response in one frame, or null when it does not fit one (send it as head, body and end).
 * @param {number} type FrameType.REQUEST or FrameType.RESPONSE
 * @param {number} streamId
 * @param {object|Uint8Array} head {method, path, headers} or {status, headers}, or that JSON already encoded
 * @param {Uint8Array} body
 * @returns {Uint8Array|null}
 */
export function encodeWholeFrame(type, streamId, head, body) {
  const json = head instanceof Uint8Array ? head : encoder.encode(JSON.stringify(head));
  const size = 4 + json.byteLength + body.byteLength;
  if (size > MAX_CHUNK) return null;
  // Laid out in place: the body (up to 256 KiB) is copied once.
  const frame = new Uint8Array(HEADER_BYTES + size);
  new DataView(frame.buffer).setUint32(HEADER_BYTES, json.byteLength);
  frame.set(json, HEADER_BYTES + 4);
  frame.set(body, HEADER_BYTES + 4 + json.byteLength);
  return writeFrameHeader(frame, type, streamId);
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
  if (WHOLE_TYPES.has(type)) {
    const length = payload.byteLength >= 4 ? new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0) : -1;
    if (length < 0 || 4 + length > payload.byteLength) throw new ProtocolError(`${name} head length does not fit the frame`);
    try {
      frame.json = JSON.parse(decoder.decode(payload.subarray(4, 4 + length)));
    } catch {
      throw new ProtocolError(`${name} head is not JSON`);
    }
    if (typeof frame.json !== 'object' || frame.json === null || Array.isArray(frame.json)) throw new ProtocolError(`${name} head must be a JSON object`);
    frame.body = payload.subarray(4 + length);
  } else if (JSON_TYPES.has(type)) {
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
    features: offeredFeatures(json.features),
  };
}

/** The features both sides know, of those a hello or welcome offers (unknown ones are ignored). */
export function offeredFeatures(value) {
  return Array.isArray(value) ? FEATURES.filter((f) => value.includes(f)) : [];
}

/** Delay before reconnect attempt n (n ≥ 1): exponential with full jitter, so many agents do not reconnect in step. */
export function reconnectDelay(n, initialMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, n - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
