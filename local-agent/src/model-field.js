// Finds the top-level "model" of a JSON request body as its bytes stream in, so the
// agent (and the gateway, for on-prem models) can pick a pool without holding the whole
// body (a 20 MB request with images is forwarded chunk by chunk once the model is known).
// Plain JavaScript with no Node built-ins: the Worker bundles it too.

const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c;
const OPEN_OBJ = 0x7b, OPEN_ARR = 0x5b, CLOSE_OBJ = 0x7d, CLOSE_ARR = 0x5d;
const MAX_CAPTURE = 1024;
const decoder = new TextDecoder();

export class ModelFieldScanner {
  depth = 0;
  inString = false;
  escape = false;
  expectKey = false;
  wantValue = false;
  capturing = null; // 'key' | 'value' | null
  bytes = [];
  key = null;
  /** undefined: not known yet; string: the model; null: the body has no usable "model". */
  result = undefined;
  /** Bytes seen so far. */
  offset = 0;
  /** Where the model's value (its quotes included) starts and ends in the body, once found: to replace it. */
  valueStart = -1;
  valueEnd = -1;
  stringStart = -1;

  /** @param {Uint8Array} chunk @returns {string|null|undefined} */
  feed(chunk) {
    let i = 0;
    // The next quote and backslash at or after i, searched again only once i passes them: a
    // string with many escapes costs one pass, not one search to its end per escape.
    let quote = -1;
    let backslash = -1;
    while (i < chunk.length && this.result === undefined) {
      if (this.inString && !this.capturing && !this.escape) {
        // Inside a string that is not kept (a message, a base64 image): jump to its end or next escape.
        if (quote < i) quote = nextIndex(chunk, QUOTE, i);
        if (backslash < i) backslash = nextIndex(chunk, BACKSLASH, i);
        const next = Math.min(quote, backslash);
        this.offset += next - i;
        i = next;
        if (i === chunk.length) break;
      }
      this.step(chunk[i]);
      this.offset++;
      i++;
    }
    return this.result;
  }

  /** The body ended. */
  end() {
    if (this.result === undefined) this.result = null;
    return this.result;
  }

  step(b) {
    if (this.inString) {
      if (this.escape) this.escape = false;
      else if (b === BACKSLASH) this.escape = true;
      else if (b === QUOTE) {
        this.inString = false;
        this.finishString();
        return;
      }
      if (this.capturing) {
        if (this.bytes.length >= MAX_CAPTURE) {
          if (this.capturing === 'value') this.result = null;
          this.capturing = null;
        } else this.bytes.push(b);
      }
      return;
    }
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) return;
    if (b === QUOTE) {
      this.inString = true;
      this.stringStart = this.offset;
      this.bytes = [];
      this.capturing = this.depth === 1 && this.expectKey ? 'key' : this.depth === 1 && this.wantValue ? 'value' : null;
      if (this.depth === 1 && this.wantValue && !this.capturing) this.result = null;
      return;
    }
    if (this.depth === 1 && this.wantValue) {
      this.result = null; // "model" is not a string
      return;
    }
    if (b === OPEN_OBJ || b === OPEN_ARR) {
      if (this.depth === 0 && b !== OPEN_OBJ) this.result = null;
      this.depth++;
      if (this.depth === 1) this.expectKey = true;
    } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
      this.depth--;
      if (this.depth <= 0) this.result = null;
    } else if (this.depth === 1 && b === COMMA) this.expectKey = true;
    else if (this.depth === 1 && b === COLON) this.wantValue = this.key === 'model';
    else if (this.depth === 0) this.result = null;
  }

  finishString() {
    const text = decoder.decode(new Uint8Array(this.bytes));
    if (this.capturing === 'key') {
      this.key = text;
      this.expectKey = false;
    } else if (this.capturing === 'value') {
      try {
        this.result = JSON.parse(`"${text}"`);
        this.valueStart = this.stringStart;
        this.valueEnd = this.offset + 1;
      } catch {
        this.result = null;
      }
    }
    this.capturing = null;
    this.bytes = [];
  }
}

/** Where `byte` next occurs in `chunk` from `from` on (chunk.length: nowhere). */
function nextIndex(chunk, byte, from) {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}
