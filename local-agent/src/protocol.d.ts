// Types of protocol.js, for the Worker (TypeScript) side.
export declare const PROTOCOL_VERSION: 1;
export declare const HEADER_BYTES: 5;
export declare const MAX_CHUNK: number;
export declare const MAX_FRAME: number;
export declare const BODY_WINDOW: number;
export declare const FrameType: Readonly<{
  HELLO: 0x01; WELCOME: 0x02; PING: 0x03; PONG: 0x04; CAPACITY: 0x05;
  REQUEST_HEAD: 0x10; REQUEST_BODY: 0x11; REQUEST_END: 0x12; REQUEST: 0x13;
  RESPONSE_HEAD: 0x20; RESPONSE_BODY: 0x21; RESPONSE_END: 0x22; RESPONSE: 0x23;
  CANCEL: 0x30; ERROR: 0x31; PAUSE: 0x32; RESUME: 0x33;
}>;
export declare class ProtocolError extends Error {}
export interface Frame { type: number; name: string; streamId: number; payload: Uint8Array; json?: any; /** REQUEST / RESPONSE: the body after the head. */ body?: Uint8Array }
export interface Hello { version: number; model: string; engine: string; capacity: number; agent: string; features: string[] }
export declare const FEATURES: readonly string[];
export declare const HEARTBEAT_PING: string;
export declare const HEARTBEAT_PONG: string;
export declare function encodeWholeFrame(type: number, streamId: number, head: unknown, body: Uint8Array): Uint8Array | null;
export declare function offeredFeatures(value: unknown): string[];
export declare function encodeFrame(type: number, streamId: number, payload?: Uint8Array): Uint8Array;
export declare function writeFrameHeader(frame: Uint8Array, type: number, streamId: number): Uint8Array;
export declare function encodeJsonFrame(type: number, streamId: number, value: unknown): Uint8Array;
export declare function decodeFrame(data: ArrayBuffer | Uint8Array): Frame;
export declare function chunksOf(bytes: Uint8Array, size?: number): Generator<Uint8Array>;
export declare function parseHello(json: any): Hello;
export declare function reconnectDelay(n: number, initialMs: number, maxMs: number, random?: () => number): number;
