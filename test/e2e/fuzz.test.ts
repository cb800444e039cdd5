import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertChatCompletionChunk, assertErrorResponse } from '../helpers/schema';
import { AZURE_TEST_KEY, OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';
import { mulberry32 } from '../helpers/prng';

// Seeded fuzzing of POST /v1/chat/completions on the real Worker. Thousands of
// malformed bodies (wrong types everywhere, random JSON, deep nesting, huge strings,
// broken data: URLs, invalid UTF-8, truncation, extreme numbers, prototype keys), sent
// with and without content-length. Every answer must be a well-formed OpenAI error
// with a 4xx status, or, for the bodies that happen to be valid, a valid completion
// from the OpenAI/Azure mock: never a 5xx, never a hang.
//
// Reproduce one case: FUZZ_SEED=<seed> FUZZ_ONLY=<index> npx vitest run test/e2e/fuzz.test.ts
// FUZZ_UPSTREAMS=all routes the aliases to the Anthropic and Gemini mocks instead, so
// the same bodies reach the translating providers (image decoding, schema conversion).

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2025);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);
const ONLY = process.env.FUZZ_ONLY === undefined ? undefined : Number(process.env.FUZZ_ONLY);
const ALL_UPSTREAMS = process.env.FUZZ_UPSTREAMS === 'all';
const CONCURRENCY = 6;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_IMAGE_BYTES = 64 * 1024;
/** Only a guard against a hang, reported with the case that hung; not a timing assertion. */
const HANG_MS = 20_000;

const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

// ---------- deterministic randomness ----------


class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float() {
    return this.next();
  }
  int(n: number) {
    return Math.floor(this.next() * n);
  }
  chance(p: number) {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  weighted<T>(items: readonly [number, T][]): T {
    let x = this.next() * items.reduce((s, [w]) => s + w, 0);
    for (const [w, item] of items) if ((x -= w) < 0) return item;
    return items[items.length - 1][1];
  }
}

// ---------- JSON trees that can hold what JSON.stringify cannot write ----------
// (1e400, -0, invalid tokens, `__proto__` as an ordinary key, pre-built deep nesting)

type Node = { t: 'raw'; text: string } | { t: 'arr'; items: Node[] } | { t: 'obj'; entries: [string, Node][] };

const raw = (text: string): Node => ({ t: 'raw', text });

function fromJs(value: unknown): Node {
  if (Array.isArray(value)) return { t: 'arr', items: value.map(fromJs) };
  if (value !== null && typeof value === 'object') return { t: 'obj', entries: Object.entries(value).map(([k, v]) => [k, fromJs(v)]) };
  return raw(JSON.stringify(value));
}

function toText(node: Node): string {
  if (node.t === 'raw') return node.text;
  if (node.t === 'arr') return `[${node.items.map(toText).join(',')}]`;
  return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${toText(v)}`).join(',')}}`;
}

/** Every node below the root, with a setter that replaces it in its parent. */
function slots(root: Node): { node: Node; set(n: Node): void; remove(): void }[] {
  const out: { node: Node; set(n: Node): void; remove(): void }[] = [];
  const walk = (n: Node) => {
    if (n.t === 'arr') {
      n.items.forEach((child, i) => {
        out.push({ node: child, set: (x) => (n.items[i] = x), remove: () => n.items.splice(i, 1) });
        walk(child);
      });
    } else if (n.t === 'obj') {
      n.entries.forEach((entry, i) => {
        out.push({ node: entry[1], set: (x) => (entry[1] = x), remove: () => n.entries.splice(i, 1) });
        walk(entry[1]);
      });
    }
  };
  walk(root);
  return out;
}

function field(root: Node, ...path: (string | number)[]): Node | undefined {
  let n: Node | undefined = root;
  for (const key of path) {
    if (!n) return undefined;
    if (typeof key === 'number') n = n.t === 'arr' ? n.items[key] : undefined;
    else n = n.t === 'obj' ? n.entries.find(([k]) => k === key)?.[1] : undefined;
  }
  return n;
}

function setField(obj: Node, key: string, value: Node) {
  if (obj.t !== 'obj') return;
  const entry = obj.entries.find(([k]) => k === key);
  if (entry) entry[1] = value;
  else obj.entries.push([key, value]);
}

// ---------- ingredients ----------

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];
const FIELD_KEYS = [
  'model', 'messages', 'role', 'content', 'type', 'text', 'image_url', 'url', 'detail', 'tools', 'function', 'name', 'arguments',
  'parameters', 'tool_calls', 'tool_call_id', 'tool_choice', 'stream', 'stream_options', 'include_usage', 'temperature', 'top_p',
  'n', 'stop', 'max_tokens', 'max_completion_tokens', 'seed', 'response_format', 'json_schema', 'schema', 'logit_bias', 'user',
  'top_k', 'refusal', 'id',
];
const NUMBER_TOKENS = [
  '0', '1', '-1', '2', '0.5', '129', '1e400', '-1e400', '1e-400', '-0', '1.7976931348623157e308', '123456789012345678901234567890',
  '9007199254740993', '-9223372036854775809', '3.14159', '1E2', '0e0',
  // not JSON at all
  'NaN', 'Infinity', '-Infinity', '0x10', '01', '.5', '1.', '+1', '1e', '--1', 'undefined',
];
const STRINGS = [
  '', ' ', 'NaN', 'Infinity', '1e400', 'true', 'null', '\u0000', '\ud800', '\udc00x', 'a\ud83d', '😀', 'é', '\u2028\u2029', '\u001b[31m',
  '__proto__', 'constructor', 'user', 'assistant', 'system', 'tool', 'developer', 'function', 'text', 'image_url', 'auto', 'required',
  'none', 'json_schema', 'json_object', 'data:', 'data:image/png;base64,', 'https://', 'http://x/y.png', '<html>', '%00', '../../etc/passwd',
  'gpt-4o', 'openai/gpt-4o', 'azure/dep', 'a'.repeat(300), 'f'.repeat(65),
];

function randomString(r: Rng): string {
  if (r.chance(0.7)) return r.pick(STRINGS);
  let s = '';
  const n = r.int(24);
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.8) ? 32 + r.int(95) : r.int(0x10000));
  return s;
}

function randomNode(r: Rng, depth = 0): Node {
  const kind = r.weighted<'null' | 'bool' | 'num' | 'str' | 'arr' | 'obj'>([
    [1, 'null'], [1, 'bool'], [2, 'num'], [3, 'str'], [depth < 4 ? 2 : 0, 'arr'], [depth < 4 ? 2 : 0, 'obj'],
  ]);
  switch (kind) {
    case 'null': return raw('null');
    case 'bool': return raw(r.chance(0.5) ? 'true' : 'false');
    case 'num': return raw(r.pick(NUMBER_TOKENS));
    case 'str': return raw(JSON.stringify(randomString(r)));
    case 'arr': return { t: 'arr', items: Array.from({ length: r.int(4) }, () => randomNode(r, depth + 1)) };
    case 'obj':
      return {
        t: 'obj',
        entries: Array.from({ length: r.int(4) }, () => [r.chance(0.75) ? r.pick(FIELD_KEYS) : r.pick(PROTO_KEYS), randomNode(r, depth + 1)]),
      };
  }
}

function deepNesting(r: Rng): string {
  const depth = r.pick([10_000, 30_000, 100_000]);
  const open = r.pick(['[', '{"a":', '{"__proto__":', '[{"role":']);
  const close = open === '[' ? ']' : open === '[{"role":' ? '}]' : '}';
  return open.repeat(depth) + (open === '[' ? '' : '1') + close.repeat(depth);
}

function baseRequest(r: Rng): Record<string, unknown> {
  const image = { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG_1PX}`, detail: 'high' } };
  const toolCall = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  return r.pick([
    () => ({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }),
    () => ({
      model: 'gpt-4o',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'what is on screen?' }, image, image] }],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 100,
      frequency_penalty: 0.5,
    }),
    () => ({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'weather?' }, { role: 'assistant', content: null, tool_calls: [toolCall] }, { role: 'tool', tool_call_id: 'call_1', content: 'sunny' }],
      tools,
      tool_choice: r.pick(['auto', 'required', { type: 'function', function: { name: 'get_weather' } }]),
    }),
    () => ({ model: 'azure-gpt-4o', messages: [{ role: 'developer', content: 'x' }, { role: 'user', content: 'y' }], stream: true, stream_options: { include_usage: true } }),
    () => ({
      model: 'azure/dep-1',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'json please' }] }],
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' } } },
      stop: ['\n'],
      seed: 7,
      n: 1,
      user: 'u',
      top_k: 40,
    }),
  ])();
}

// ---------- case generators ----------

interface FuzzCase {
  kind: string;
  body: string | Uint8Array;
}

const encoder = new TextEncoder();

function mutateFields(r: Rng): FuzzCase {
  const root = fromJs(baseRequest(r));
  for (let m = 1 + r.int(3); m > 0; m--) {
    const all = slots(root);
    const slot = r.pick(all);
    const op = slot ? r.weighted<'replace' | 'remove' | 'add'>([[6, 'replace'], [2, 'remove'], [2, 'add']]) : 'add';
    if (op === 'replace') slot.set(randomNode(r));
    else if (op === 'remove') slot.remove();
    else {
      const objects = [root, ...all.map((s) => s.node)].filter((n) => n.t === 'obj');
      const target = r.pick(objects);
      if (target.t === 'obj') target.entries.push([r.chance(0.5) ? r.pick(FIELD_KEYS) : r.pick(PROTO_KEYS), randomNode(r)]);
    }
  }
  return { kind: 'wrong types', body: toText(root) };
}

function randomJson(r: Rng): FuzzCase {
  return { kind: 'random json', body: toText(randomNode(r)) };
}

function deep(r: Rng): FuzzCase {
  const root = fromJs(baseRequest(r));
  const text = deepNesting(r);
  const nested = raw(text);
  const message = field(root, 'messages', 0)!;
  // Wherever the validator looks (and describes what it found), and where it does not.
  r.pick<() => void>([
    () => setField(root, 'messages', nested),
    () => (field(root, 'messages') as Extract<Node, { t: 'arr' }>).items.push(nested),
    () => setField(message, 'content', nested),
    () => setField(message, 'role', nested),
    () => setField(message, 'tool_calls', nested),
    () => setField(root, r.pick(['model', 'temperature', 'stop', 'tools', 'tool_choice', 'response_format', 'stream_options']), nested),
    () => setField(root, r.pick(['extra', 'logit_bias', 'metadata', '__proto__']), nested),
    () => setField(root, 'tools', raw(`[{"type":"function","function":{"name":"f","parameters":{"x":${text}}}}]`)),
  ])();
  return { kind: 'deep nesting', body: r.chance(0.1) ? text : toText(root) };
}

function huge(r: Rng): FuzzCase {
  const root = fromJs(baseRequest(r));
  const size = r.pick([300_000, 1_000_000, 3_000_000, 5_000_000]);
  const text = raw(JSON.stringify(r.pick(['x', 'é', '😀', 'ab\n']).repeat(Math.ceil(size / 2))));
  const where = r.int(6);
  const message = field(root, 'messages', 0)!;
  if (where === 0) setField(message, 'content', text);
  else if (where === 1) setField(root, 'model', text);
  else if (where === 2) setField(message, 'role', text);
  else if (where === 3) setField(root, 'padding', text);
  else if (where === 4) setField(root, 'stop', { t: 'arr', items: [text] });
  else setField(message, 'content', fromJs([{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX.slice(0, -2)}${'A'.repeat(size)}` } }]));
  return { kind: 'huge strings', body: toText(root) };
}

function dataUrl(r: Rng): FuzzCase {
  const header = r.pick([
    'data:image/png;base64,', 'data:image/jpeg;base64,', 'data:;base64,', 'data:image/png,', 'data:image/png;base64', 'data:', 'DATA:image/png;base64,',
    'data:image/png;base64;,', `data:${'x'.repeat(300)};base64,`, 'data:image/png;charset=utf-8;base64,', 'data:image/bmp;base64,', 'data:text/plain;base64,',
  ]);
  let payload = PNG_1PX;
  const corruption = r.int(9);
  if (corruption === 0) payload = payload.slice(0, r.int(payload.length));
  else if (corruption === 1) {
    const chars = [...payload];
    for (let k = 1 + r.int(4); k > 0; k--) chars[r.int(chars.length)] = r.pick(['!', '-', '_', '=', '%', ' ', '\n', '*', 'é', '\u0000']);
    payload = chars.join('');
  } else if (corruption === 2) payload += r.pick(['=', '==', '===', 'A', 'AA=']);
  else if (corruption === 3) payload = payload.replace(/(.{4})/g, r.pick(['$1\n', '$1 ', '$1\r\n', '$1\t']));
  else if (corruption === 4) payload = `${payload.slice(0, -2)}${'A'.repeat(MAX_IMAGE_BYTES + r.int(1000))}`;
  else if (corruption === 5) payload = '';
  else if (corruption === 6) payload = String.fromCharCode(...Array.from({ length: 40 }, () => r.int(256)));
  else if (corruption === 7) payload = btoa('GIF89a but not really, just text');
  const request = baseRequest(r);
  request.messages = [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: header + payload, ...(r.chance(0.2) ? { detail: randomString(r) } : {}) } }] }];
  return { kind: 'data: URLs', body: JSON.stringify(request) };
}

const BAD_UTF8: number[][] = [[0xff], [0xfe], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf0, 0x9f], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xc3]];

function invalidUtf8(r: Rng): FuzzCase {
  let bytes = encoder.encode(JSON.stringify(baseRequest(r)));
  for (let k = 1 + r.int(3); k > 0; k--) {
    const at = r.int(bytes.length + 1);
    const bad = r.pick(BAD_UTF8);
    const next = new Uint8Array(bytes.length + bad.length);
    next.set(bytes.subarray(0, at), 0);
    next.set(bad, at);
    next.set(bytes.subarray(at), at + bad.length);
    bytes = next;
  }
  return { kind: 'invalid UTF-8', body: bytes };
}

function truncated(r: Rng): FuzzCase {
  const text = JSON.stringify(baseRequest(r));
  return { kind: 'truncated JSON', body: text.slice(0, r.int(text.length)) };
}

function byteNoise(r: Rng): FuzzCase {
  if (r.chance(0.3)) return { kind: 'byte noise', body: Uint8Array.from({ length: r.int(300) }, () => r.int(256)) };
  const bytes = encoder.encode(JSON.stringify(baseRequest(r)));
  for (let k = 1 + r.int(4); k > 0; k--) bytes[r.int(bytes.length)] = r.int(256);
  return { kind: 'byte noise', body: bytes };
}

function extremeNumbers(r: Rng): FuzzCase {
  const root = fromJs(baseRequest(r));
  for (let k = 1 + r.int(3); k > 0; k--) {
    const key = r.pick(['temperature', 'top_p', 'n', 'max_tokens', 'max_completion_tokens', 'presence_penalty', 'frequency_penalty', 'top_logprobs', 'seed', 'top_k', 'logit_bias']);
    const token = r.chance(0.8) ? r.pick(NUMBER_TOKENS) : JSON.stringify(r.pick(['NaN', 'Infinity', '1e400', '0.5', '', '-0']));
    setField(root, key, key === 'logit_bias' ? raw(`{"50256":${token}}`) : raw(token));
  }
  return { kind: 'extreme numbers', body: toText(root) };
}

function prototypeKeys(r: Rng): FuzzCase {
  const root = fromJs(baseRequest(r));
  const objects = [root, ...slots(root).map((s) => s.node)].filter((n) => n.t === 'obj');
  for (let k = 1 + r.int(3); k > 0; k--) {
    const target = r.pick(objects);
    if (target.t !== 'obj') continue;
    const key = r.pick(PROTO_KEYS);
    const value = r.pick<() => Node>([
      () => fromJs({ polluted: true, role: 'user', model: 'gpt-4o' }),
      () => raw('null'),
      () => raw(JSON.stringify(r.pick(PROTO_KEYS))),
      () => fromJs([{ role: 'user', content: 'x' }]),
    ])();
    if (r.chance(0.5)) target.entries.unshift([key, value]);
    else target.entries.push([key, value]);
  }
  if (r.chance(0.3)) setField(root, 'model', raw(JSON.stringify(r.pick([...PROTO_KEYS, 'openai/__proto__', 'azure/constructor', 'azure/\ud800', 'openai/\udfff'])))); // unknown or odd models
  if (r.chance(0.3)) setField(field(root, 'messages', 0)!, 'role', raw(JSON.stringify(r.pick(PROTO_KEYS))));
  return { kind: 'prototype keys', body: toText(root) };
}

function validVariant(r: Rng): FuzzCase {
  const request = baseRequest(r);
  if (r.chance(0.5)) request.stream = r.chance(0.5);
  if (r.chance(0.3)) request.stream_options = { include_usage: true };
  if (r.chance(0.3)) request[r.pick(['top_k', 'repetition_penalty', 'guided_json', 'x_custom'])] = r.chance(0.5) ? 1 : { nested: [1, 2] };
  if (r.chance(0.3)) request.temperature = r.float() * 2;
  return { kind: 'valid', body: JSON.stringify(request) };
}

const GENERATORS: [number, (r: Rng) => FuzzCase][] = [
  [30, mutateFields],
  [8, randomJson],
  [5, deep],
  [2, huge],
  [12, dataUrl],
  [8, invalidUtf8],
  [8, truncated],
  [6, byteNoise],
  [8, extremeNumbers],
  [7, prototypeKeys],
  [6, validVariant],
];

function makeCase(index: number): FuzzCase & { chunked: number | null; contentType: string | null } {
  const r = new Rng((SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const c = r.weighted(GENERATORS)(r);
  return {
    ...c,
    chunked: r.chance(0.15) ? 1 + r.int(4096) : null,
    contentType: r.pick(['application/json', 'application/json', 'text/plain', null, 'application/json; charset=latin1']),
  };
}

// ---------- the run ----------

let mock: OpenAIMock;
let gateway: Gateway;
const otherMocks: { close(): Promise<void> }[] = [];

/** The aliases `gpt-4o` and `azure-gpt-4o` go to OpenAI and Azure, or (FUZZ_UPSTREAMS=all) to Claude and Gemini. */
async function aliasBindings(): Promise<Record<string, string>> {
  if (!ALL_UPSTREAMS) {
    return { MODELS: JSON.stringify({ 'gpt-4o': { target: 'openai/gpt-4o' }, 'azure-gpt-4o': { target: 'azure/gpt-4o', api_version: '2024-10-21' } }) };
  }
  const anthropic = await import('../upstreams/anthropic');
  const gemini = await import('../upstreams/gemini');
  const [am, gm] = [await anthropic.startAnthropicMock(), await gemini.startGeminiMock()];
  otherMocks.push(am, gm);
  return {
    MODELS: JSON.stringify({ 'gpt-4o': { target: 'anthropic/claude-sonnet-4-5' }, 'azure-gpt-4o': { target: 'gemini/gemini-2.0-flash' } }),
    ANTHROPIC_API_KEY: anthropic.ANTHROPIC_TEST_KEY,
    ANTHROPIC_BASE_URL: am.url,
    GEMINI_API_KEY: gemini.GEMINI_TEST_KEY,
    GEMINI_BASE_URL: gm.url,
  };
}

beforeAll(async () => {
  mock = await startOpenAIMock();
  gateway = await startGateway({
    ...(await aliasBindings()),
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${mock.url}/v1`,
    AZURE_OPENAI_API_KEY: AZURE_TEST_KEY,
    AZURE_OPENAI_ENDPOINT: mock.url,
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES),
  });
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
  for (const m of otherMocks) await m.close();
});

function requestInit(c: ReturnType<typeof makeCase>): RequestInit {
  const headers: Record<string, string> = { authorization: `Bearer ${TEST_GATEWAY_KEY}` };
  if (c.contentType) headers['content-type'] = c.contentType;
  const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers, signal: AbortSignal.timeout(HANG_MS) };
  if (c.chunked === null) {
    init.body = c.body as BodyInit;
    return init;
  }
  const bytes = typeof c.body === 'string' ? encoder.encode(c.body) : c.body;
  const piece = c.chunked;
  let offset = 0;
  init.body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, (offset += piece)));
    },
  });
  init.duplex = 'half';
  return init;
}

/** Checks one answer; returns what is wrong with it, or null. */
function verdict(status: number, contentType: string, text: string): string | null {
  try {
    if (status >= 400 && status < 500) {
      if (!contentType.startsWith('application/json')) return `${status} with content-type ${contentType}`;
      assertErrorResponse(JSON.parse(text));
      return null;
    }
    if (status !== 200) return `status ${status}: ${text.slice(0, 300)}`;
    if (contentType.startsWith('application/json')) {
      assertChatCompletion(JSON.parse(text));
      return null;
    }
    if (!contentType.startsWith('text/event-stream')) return `200 with content-type ${contentType}`;
    const events = text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    if (events.at(-1) !== '[DONE]') return `stream without [DONE]: ${text.slice(-200)}`;
    for (const data of events.slice(0, -1)) {
      const chunk = JSON.parse(data);
      if (chunk.error) return `stream error chunk: ${data.slice(0, 300)}`;
      assertChatCompletionChunk(chunk);
    }
    return null;
  } catch (error) {
    return `${status}: ${String(error).slice(0, 300)} — body ${text.slice(0, 200)}`;
  }
}

describe('fuzz: POST /v1/chat/completions', () => {
  it(`answers ${ONLY === undefined ? CASES : 1} malformed bodies (seed ${SEED}) with 4xx OpenAI errors or valid completions`, { timeout: 240_000 }, async () => {
    const indexes = ONLY === undefined ? Array.from({ length: CASES }, (_, i) => i) : [ONLY];
    const failures: string[] = [];
    const byStatus = new Map<string, number>();
    const byKind = new Map<string, number>();
    let next = 0;

    async function worker() {
      while (next < indexes.length) {
        const index = indexes[next++];
        const c = makeCase(index);
        byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
        const size = typeof c.body === 'string' ? encoder.encode(c.body).length : c.body.length;
        const describeCase = `#${index} ${c.kind} (${size} bytes${c.chunked ? `, chunked by ${c.chunked}` : ''})`;
        try {
          const res = await fetch(`${gateway.baseURL}/chat/completions`, requestInit(c));
          const text = await res.text();
          const code = res.status === 200 ? '200' : `${res.status} ${safeCode(text)}`;
          byStatus.set(code, (byStatus.get(code) ?? 0) + 1);
          const problem = verdict(res.status, res.headers.get('content-type') ?? '', text);
          if (problem) failures.push(`${describeCase}: ${problem}`);
          else if (!res.headers.get('x-request-id')) failures.push(`${describeCase}: no x-request-id`);
        } catch (error) {
          const cause = error instanceof Error && error.cause ? ` (${String((error.cause as Error).message ?? error.cause)})` : '';
          failures.push(`${describeCase}: ${error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${HANG_MS} ms` : String(error)}${cause}`);
        }
      }
    }

    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `fuzz: ${indexes.length} cases, seed ${SEED}, ${seconds} s\n  kinds: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}\n  answers: ${[...byStatus]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
    );

    expect(failures.slice(0, 20)).toEqual([]);
    if (ONLY === undefined) {
      // The fuzz must actually reach each outcome, or it tests less than it claims.
      const count = (prefix: string) => [...byStatus].filter(([k]) => k.startsWith(prefix)).reduce((s, [, n]) => s + n, 0);
      expect(count('200')).toBeGreaterThan(0);
      expect(count('400')).toBeGreaterThan(0);
      expect(count('413')).toBeGreaterThan(0);
      expect(count('404')).toBeGreaterThan(0);
    }
  });
});

function safeCode(text: string): string {
  try {
    return String(JSON.parse(text).error?.code);
  } catch {
    return '(not JSON)';
  }
}
