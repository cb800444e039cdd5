// Types of protocol.js, for the Worker (TypeScript) side.
export declare const PROTOCOL_VERSION: 1;
export declare const HEADER_BYTES: 5;
export declare const MAX_CHUNK: number;
export declare const MAX_FRAME: number;
export declare const FrameType: Readonly<{
  HELLO: 0x01; WELCOME: 0x02; PING: 0x03; PONG: 0x04;
  REQUEST_HEAD: 0x10; REQUEST_BODY: 0x11; REQUEST_END: 0x12;
  RESPONSE_HEAD: 0x20; RESPONSE_BODY: 0x21; RESPONSE_END: 0x22;
  CANCEL: 0x30; ERROR: 0x31;
}>;
export declare class ProtocolError extends Error {}
export interface Frame { type: number; name: string; streamId: number; payload: Uint8Array; json?: any }
export interface Hello { version: number; model: string; engine: string; capacity: number; agent: string }
export declare function encodeFrame(type: number, streamId: number, payload?: Uint8Array): Uint8Array;
export declare function encodeJsonFrame(type: number, streamId: number, value: unknown): Uint8Array;
export declare function decodeFrame(data: ArrayBuffer | Uint8Array): Frame;
export declare function chunksOf(bytes: Uint8Array, size?: number): Generator<Uint8Array>;
export declare function parseHello(json: any): Hello;
export declare function reconnectDelay(n: number, initialMs: number, maxMs: number, random?: () => number): number;
