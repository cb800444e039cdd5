// Asking an engine for a stream's usage chunk on the gateway's behalf. The gateway counts
// tokens (usage accounting, per-key tpm limits and budgets) from the usage an answer
// carries; a streamed answer carries it only when the request sets
// stream_options.include_usage (OpenAI, vLLM, LMDeploy). The gateway never parses an
// on-prem body, so the agent adds `"stream_options":{"include_usage":true}` when the body's
// top-level "stream" is true and it has no "stream_options" of its own (a client's own
// choice is kept; vLLM refuses stream_options on a request that does not stream). The
// gateway then takes the usage chunk out of what the client receives.
// The body is scanned as it streams, without holding it: strings (images, messages) are
// skipped with indexOf, so the cost follows the JSON's structure, not its size. The text is
// inserted before the top-level object's closing brace.
// Plain JavaScript with no Node built-ins (like model-field.js).

const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c;
const OPEN_OBJ = 0x7b, OPEN_ARR = 0x5b, CLOSE_OBJ = 0x7d, CLOSE_ARR = 0x5d;
const LOWER_T = 0x74;
const MAX_KEY = 32; // longer keys are neither "stream" nor "stream_options"
const decoder = new TextDecoder();

/** Response header by which the agent tells the gateway it added the usage request. */
export const USAGE_ADDED_HEADER = 'x-switchboard-usage-added';
/** What is inserted before the body's closing brace. */
export const INCLUDE_USAGE = new TextEncoder().encode(',"stream_options":{"include_usage":true}');

export class IncludeUsageScanner {
  depth = 0;
  inString = false;
  escape = false;
  expectKey = false;
  /** After a top-level key's colon, before its value. */
  wantValue = false;
  /** Bytes of a top-level key being read, or null. */
  keyBytes = null;
  key = null;
  /** The top-level "stream" is true (the last one, as JSON parsers take it). */
  stream = false;
  hasStreamOptions = false;
  /** The top-level object has ended. */
  closed = false;
  /** Not one JSON object (then nothing is added: the engine answers the malformed body). */
  invalid = false;

  /**
   * @param {Uint8Array} chunk the body's next bytes
   * @returns {number} where the top-level closing brace is in this chunk, or -1
   */
  feed(chunk) {
    let at = -1;
    // The next quote and backslash at or after i (searched again only once i passes them), so a
    // string with many escapes costs one pass, not one search to its end per escape.
    let quote = -1;
    let backslash = -1;
    for (let i = 0; i < chunk.length; i++) {
      if (this.inString) {
        if (!this.keyBytes && !this.escape) {
          // A string that is not a top-level key (a message, a base64 image): jump to its end or next escape.
          if (quote < i) quote = nextIndex(chunk, QUOTE, i);
          if (backslash < i) backslash = nextIndex(chunk, BACKSLASH, i);
          i = Math.min(quote, backslash);
          if (i === chunk.length) break;
        }
        const b = chunk[i];
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) this.escape = true;
        else if (b === QUOTE) {
          this.inString = false;
          if (this.keyBytes) {
            this.key = decoder.decode(new Uint8Array(this.keyBytes));
            this.keyBytes = null;
          }
          continue;
        }
        if (this.keyBytes) {
          if (this.keyBytes.length < MAX_KEY) this.keyBytes.push(b);
          else this.keyBytes = null; // too long to matter; skipped as any string
          if (!this.keyBytes) this.key = null;
        }
        continue;
      }
      const b = chunk[i];
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
      if (this.closed) {
        this.invalid = true; // bytes after the object
        return at;
      }
      if (this.depth === 1 && this.wantValue) {
        this.wantValue = false;
        if (this.key === 'stream') this.stream = b === LOWER_T;
      }
      if (b === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && this.expectKey) {
          this.expectKey = false;
          this.keyBytes = [];
          this.key = null;
        }
      } else if (b === OPEN_OBJ || b === OPEN_ARR) {
        if (this.depth === 0 && b !== OPEN_OBJ) {
          this.invalid = true;
          return -1;
        }
        this.depth++;
        if (this.depth === 1) this.expectKey = true;
      } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
        this.depth--;
        if (this.depth < 0) {
          this.invalid = true;
          return -1;
        }
        if (this.depth === 0) {
          this.closed = true;
          at = i;
        }
      } else if (this.depth === 1 && b === COMMA) this.expectKey = true;
      else if (this.depth === 1 && b === COLON) {
        this.wantValue = true;
        if (this.key === 'stream_options') this.hasStreamOptions = true;
      } else if (this.depth === 0) {
        this.invalid = true;
        return -1;
      }
    }
    return at;
  }

  /** Whether the usage request is to be added (call once the body has ended). */
  get wanted() {
    return this.closed && !this.invalid && this.stream && !this.hasStreamOptions;
  }
}

/** Where `byte` next occurs in `chunk` from `from` on (chunk.length: nowhere). */
function nextIndex(chunk, byte, from) {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}

/**
 * Where INCLUDE_USAGE goes in a whole body (before its closing brace), or -1 when it needs
 * none (it does not stream, it has its own stream_options, or it is not one JSON object).
 * @param {Uint8Array} body
 * @returns {number}
 */
export function includeUsageAt(body) {
  const scanner = new IncludeUsageScanner();
  const close = scanner.feed(body);
  return close >= 0 && scanner.wanted ? close : -1;
}

/**
 * A whole body with the usage request added, or null when it needs none (it does not
 * stream, it has its own stream_options, or it is not one JSON object).
 * @param {Uint8Array} body
 * @returns {Uint8Array|null}
 */
export function withIncludeUsage(body) {
  const close = includeUsageAt(body);
  if (close < 0) return null;
  const out = new Uint8Array(body.byteLength + INCLUDE_USAGE.byteLength);
  out.set(body.subarray(0, close), 0);
  out.set(INCLUDE_USAGE, close);
  out.set(body.subarray(close), close + INCLUDE_USAGE.byteLength);
  return out;
}
