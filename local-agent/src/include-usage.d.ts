// Types of include-usage.js, for the Worker (TypeScript) side and tests.
export declare const USAGE_ADDED_HEADER: 'x-switchboard-usage-added';
export declare const INCLUDE_USAGE: Uint8Array;
export declare class IncludeUsageScanner {
  stream: boolean;
  hasStreamOptions: boolean;
  closed: boolean;
  invalid: boolean;
  feed(chunk: Uint8Array): number;
  readonly wanted: boolean;
}
export declare function includeUsageAt(body: Uint8Array): number;
export declare function withIncludeUsage(body: Uint8Array): Uint8Array | null;
