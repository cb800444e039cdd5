import type { ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { MockServer, fixtureLines, sendJson, type RecordedRequest } from './mock-server';

// A faithful stand-in for Anthropic's Messages API, POST /v1/messages, built from
// Anthropic's API reference (the Messages API, errors, streaming pages and the
// SDK's types for API version 2026-10-21) and the recorded responses in
// ../shared/fixtures/recorded/anthropic:
// - auth: `x-api-key: <key>` or `Authorization: Bearer <key>` (SDK v1 sends the latter);
//   401 authentication_error otherwise. `anthropic-version` is required: 2023-06-01
//   or 2026-10-21, which differ in that 2026-10-21 rejects temperature/top_p/top_k.
// - errors: {"type":"error","error":{"type","message"},"request_id"} with the
//   documented status per type, and a `request-id` header on every response.
// - validation of what a translation can get wrong, with Anthropic's messages:
//   max_tokens required, the first turn a user turn, no empty or whitespace-only
//   text, image media_type matching the bytes, tool_result after the matching
//   tool_use and before other content, system as a string or text blocks, unknown
//   top-level fields ("Extra inputs are not permitted"), 32 MB request limit, 5 MB
//   per base64 image; per model (validateModelRules): max_tokens above the model's
//   output limit, temperature with top_p (Claude 4.5 and later), any non-default
//   sampling (Opus 4.7 and later); thinking (validateThinking): budget_tokens ≥ 1024
//   and < max_tokens, manual mode refused by 4.7 and later and adaptive by 4.5 and
//   earlier, temperature / top_p / top_k / forced tool_choice refused beside
//   thinking, a tool round's final assistant turn without its thinking block, a
//   thinking block whose signature does not match.
// - thinking: when asked for (`enabled` or `adaptive`), the echo answer starts with a
//   thinking block "Thinking about: <last user text>" whose signature is the mock's
//   own (`mocksig:` + base64 of the text); its text is empty where the model's
//   default display is `omitted` (Opus 4.7 and later) and `summarized` was not asked
//   for; usage has output_tokens_details.thinking_tokens; streamed as thinking_delta
//   events and one signature_delta before content_block_stop.
// - responses: the `message` object, or for `stream: true` the SSE sequence with
//   `event:` lines: message_start, content_block_start, ping, content_block_delta…,
//   content_block_stop, message_delta, message_stop.

export const ANTHROPIC_TEST_KEY = 'sk-ant-api03-test-key-0123456789abcdef';
export const API_VERSIONS = ['2023-06-01', '2026-10-21'] as const;
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

const fixtureDir = new URL('../../../shared/fixtures/recorded/anthropic/', import.meta.url);
export const RECORDED_FIXTURES = ['anthropic-text', 'anthropic-tool-no-args', 'anthropic-json-tool.1'] as const;
export type RecordedFixture = (typeof RECORDED_FIXTURES)[number];

/** A recorded response body (`.json`) or stream (`.chunks.txt`, one event payload per line). */
export function recordedAnthropic(name: RecordedFixture, kind: 'json' | 'chunks'): string {
  return readFileSync(new URL(`${name}.${kind === 'json' ? 'json' : 'chunks.txt'}`, fixtureDir), 'utf8');
}

/** A response the test wants next, instead of the default echo. */
export type AnthropicScripted =
  /** Any status and body (errors). */
  | { status: number; body: unknown; headers?: Record<string, string> }
  /** A message, sent as JSON or, when the request streams, as the event sequence that builds it. */
  | { message: MockMessage }
  /** Stream events (data payloads; the `event:` name is their `type`), with failure modes. */
  | { events: object[]; abortAfter?: number; splitUtf8?: boolean; delayMs?: number }
  /** A recorded fixture: the `.json` for plain requests, the `.chunks.txt` for streams. */
  | { fixture: RecordedFixture }
  | { raw: string; status?: number; contentType?: string };

export interface MockMessage {
  id?: string;
  model?: string;
  content: ({ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown } | { type: string; [k: string]: unknown })[];
  stop_reason?: string;
  stop_sequence?: string | null;
  stop_details?: unknown;
  usage?: Partial<Record<'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens', number>> & {
    output_tokens_details?: { thinking_tokens: number };
  };
}

export interface AnthropicMock {
  server: MockServer;
  url: string;
  script: AnthropicScripted[];
  /** Streams whose client went away before the last event was written. */
  readonly abandonedStreams: number;
  close(): Promise<void>;
}

/** `keys`: the API keys this mock accepts (several credentials of one account); default ANTHROPIC_TEST_KEY. */
export async function startAnthropicMock(options: { keys?: string[] } = {}): Promise<AnthropicMock> {
  const script: AnthropicScripted[] = [];
  const state = { abandoned: 0 };
  const keys = options.keys ?? [ANTHROPIC_TEST_KEY];
  const server = await MockServer.start((req, res) => handle(req, res, script, () => state.abandoned++, keys));
  return {
    server,
    url: server.url,
    script,
    get abandonedStreams() {
      return state.abandoned;
    },
    close: () => server.close(),
  };
}

let requestCounter = 0;
const requestId = () => `req_mock${String(++requestCounter).padStart(6, '0')}`;

export function errorBody(type: string, message: string) {
  return { type: 'error', error: { type, message }, request_id: requestId() };
}

const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

function sendError(res: ServerResponse, type: string, message: string, headers: Record<string, string> = {}) {
  const body = errorBody(type, message);
  sendJson(res, STATUS_BY_TYPE[type] ?? 400, body, { 'request-id': body.request_id, 'x-should-retry': 'false', ...headers });
}

async function handle(req: RecordedRequest, res: ServerResponse, script: AnthropicScripted[], onAbandoned: () => void, keys: string[]) {
  const sendEvents = (events: object[], options: SendOptions = {}) => writeEvents(res, events, options, onAbandoned);
  if (req.method !== 'POST' || req.path !== '/v1/messages') {
    return sendError(res, 'not_found_error', 'Not Found');
  }
  const presented = req.headers['x-api-key'] ?? (req.headers.authorization ?? '').replace(/^Bearer /, '');
  if (!presented) return sendError(res, 'authentication_error', 'x-api-key header is required');
  if (!keys.includes(presented)) return sendError(res, 'authentication_error', 'invalid x-api-key');
  const version = req.headers['anthropic-version'];
  if (!version) return sendError(res, 'invalid_request_error', 'anthropic-version: header is required');
  if (!(API_VERSIONS as readonly string[]).includes(version)) {
    return sendError(res, 'invalid_request_error', `anthropic-version: invalid version ${JSON.stringify(version)}; expected one of ${API_VERSIONS.join(', ')}`);
  }
  if (Buffer.byteLength(req.rawBody) > MAX_REQUEST_BYTES) {
    return sendError(res, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
  }
  if (req.body === undefined) return sendError(res, 'invalid_request_error', 'There was an issue with the format or content of your request: the body is not valid JSON.');
  const invalid = validateMessagesRequest(req.body, version as (typeof API_VERSIONS)[number]) ?? validateModelRules(req.body);
  if (invalid) return sendError(res, 'invalid_request_error', invalid);

  const stream = req.body.stream === true;
  const next = script.shift();
  if (next && 'status' in next && !('raw' in next)) {
    return sendJson(res, next.status, next.body, { 'request-id': requestId(), ...next.headers });
  }
  if (next && 'raw' in next) {
    res.writeHead(next.status ?? 200, { 'content-type': next.contentType ?? 'text/plain' });
    return res.end(next.raw);
  }
  if (next && 'events' in next) return sendEvents(next.events, next);
  if (next && 'fixture' in next) {
    if (stream) return sendEvents(fixtureLines(recordedAnthropic(next.fixture, 'chunks')).map((l) => JSON.parse(l)));
    return sendJson(res, 200, JSON.parse(recordedAnthropic(next.fixture, 'json')), { 'request-id': requestId() });
  }
  const message = completeMessage(next && 'message' in next ? next.message : echoMessage(req.body), req.body.model);
  if (stream) return sendEvents(messageEvents(message));
  return sendJson(res, 200, message, { 'request-id': requestId() });
}

/** The default answer: "echo: " and the last user text, cut to max_tokens words (after any thinking). */
function echoMessage(body: any): MockMessage {
  const words = `echo: ${lastUserText(body.messages)}`.split(/(?<= )/);
  const cut = words.length > body.max_tokens;
  const message: MockMessage = {
    content: [{ type: 'text', text: words.slice(0, body.max_tokens).join('') }],
    stop_reason: cut ? 'max_tokens' : 'end_turn',
    usage: { input_tokens: 10 + JSON.stringify(body.messages).length % 50, output_tokens: Math.min(words.length, body.max_tokens) },
  };
  if (!thinkingOn(body)) return message;
  const thought = `Thinking about: ${lastUserText(body.messages)}`;
  const thinkingTokens = thought.split(' ').length;
  message.content.unshift(thinkingBlock(thought, displayOmitted(body)));
  message.usage = { ...message.usage, output_tokens: message.usage!.output_tokens! + thinkingTokens, output_tokens_details: { thinking_tokens: thinkingTokens } };
  return message;
}

/** The mock's signature for a thinking text (Anthropic's is opaque; this one lets the mock check a round trip). */
export const mockSignature = (thinking: string) => `mocksig:${Buffer.from(thinking, 'utf8').toString('base64')}`;

/** A thinking block as the API returns it; with `omitted` display the text is empty, the signature still covers it. */
export function thinkingBlock(thinking: string, omitted = false) {
  return { type: 'thinking', thinking: omitted ? '' : thinking, signature: mockSignature(thinking) };
}

const thinkingOn = (body: any) => body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive';
/** Opus 4.7 and later default to `display: "omitted"`. */
const displayOmitted = (body: any) => (body.thinking?.display ?? (NO_MANUAL_THINKING.test(body.model) ? 'omitted' : 'summarized')) === 'omitted';

let messageCounter = 0;

/** A full `message` object as the API returns it. */
export function completeMessage(m: MockMessage, model: string) {
  return {
    id: m.id ?? `msg_01Mock${String(++messageCounter).padStart(18, '0')}`,
    type: 'message',
    role: 'assistant',
    model: m.model ?? model,
    content: m.content.map((b) => (b.type === 'text' ? { citations: null, ...b } : b)),
    stop_reason: m.stop_reason ?? (m.content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
    stop_sequence: m.stop_sequence ?? null,
    stop_details: m.stop_details ?? null,
    usage: {
      input_tokens: 12,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 6,
      service_tier: 'standard',
      ...m.usage,
    },
  };
}

/**
 * The event sequence that streams `message`, as the API sends it: text in a few
 * deltas, tool input as JSON fragments, a ping after the first block starts.
 */
export function messageEvents(message: ReturnType<typeof completeMessage>): object[] {
  const { content, stop_reason, stop_sequence, stop_details, usage, ...rest } = message;
  const events: object[] = [
    {
      type: 'message_start',
      message: { ...rest, content: [], stop_reason: null, stop_sequence: null, stop_details: null, usage: { ...usage, output_tokens: 1 } },
    },
  ];
  content.forEach((block: any, index) => {
    if (block.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '', citations: null } });
      if (index === 0) events.push({ type: 'ping' });
      for (const piece of splitPieces(block.text)) events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
    } else if (block.type === 'tool_use') {
      events.push({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
      if (index === 0) events.push({ type: 'ping' });
      events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const piece of splitPieces(JSON.stringify(block.input))) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } });
      }
    } else if (block.type === 'thinking') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      if (index === 0) events.push({ type: 'ping' });
      for (const piece of splitPieces(block.thinking)) events.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } });
      events.push({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
    } else {
      events.push({ type: 'content_block_start', index, content_block: block });
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push({
    type: 'message_delta',
    delta: { stop_reason, stop_sequence, stop_details },
    usage: {
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      output_tokens: usage.output_tokens,
      ...('output_tokens_details' in usage ? { output_tokens_details: usage.output_tokens_details } : {}),
    },
  });
  events.push({ type: 'message_stop' });
  return events;
}

/** Splits text into pieces of about 8 characters (never inside a surrogate pair). */
function splitPieces(text: string): string[] {
  const chars = [...text];
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += 8) pieces.push(chars.slice(i, i + 8).join(''));
  return pieces;
}

/**
 * Writes the events as SSE, each flushed on its own. `abortAfter` cuts the
 * connection after that many events; `splitUtf8` writes each event in two pieces
 * cut inside a multi-byte character, as TCP may deliver it; `delayMs` paces them.
 */
type SendOptions = { abortAfter?: number; splitUtf8?: boolean; delayMs?: number };

async function writeEvents(res: ServerResponse, events: object[], options: SendOptions, onAbandoned: () => void) {
  let cutByMock = false;
  res.on('close', () => {
    if (!res.writableEnded && !cutByMock) onAbandoned();
  });
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': requestId(),
  });
  const write = (bytes: Buffer) => new Promise<void>((resolve) => res.write(bytes, () => resolve()));
  for (let i = 0; i < events.length; i++) {
    if (res.destroyed) return;
    if (options.abortAfter !== undefined && i === options.abortAfter) {
      await write(Buffer.alloc(0));
      cutByMock = true;
      res.destroy();
      return;
    }
    const event = events[i] as { type: string };
    const bytes = Buffer.from(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`, 'utf8');
    const cut = options.splitUtf8 ? bytes.findIndex((b) => b >= 0xc0) : -1;
    if (cut >= 0) {
      await write(bytes.subarray(0, cut + 1));
      await write(bytes.subarray(cut + 1));
    } else await write(bytes);
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
  }
  res.end();
}

function lastUserText(messages: any[]): string {
  const user = [...messages].reverse().find((m) => m?.role === 'user');
  if (!user) return '';
  if (typeof user.content === 'string') return user.content;
  return user.content.filter((b: any) => b?.type === 'text').map((b: any) => b.text).join(' ');
}

// ---------------------------------------------------------------------------------
// Request validation, with the API's error messages

const TOP_LEVEL_FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'metadata', 'stop_sequences', 'stream', 'system', 'tools', 'tool_choice',
  'thinking', 'output_config', 'service_tier', 'container', 'cache_control', 'inference_geo', 'speed', 'diagnostics',
  'context_management', 'mcp_servers',
]);
const SAMPLING_FIELDS = ['temperature', 'top_p', 'top_k'];
const MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBlank = (s: string) => !/\S/.test(s);

/** The first thing the API would reject about this body, as its error message, or null. */
export function validateMessagesRequest(body: unknown, version: (typeof API_VERSIONS)[number]): string | null {
  if (!isObject(body)) return 'There was an issue with the format or content of your request: expected a JSON object.';
  for (const key of Object.keys(body)) {
    const known = TOP_LEVEL_FIELDS.has(key) || (version === '2023-06-01' && SAMPLING_FIELDS.includes(key));
    if (!known) return `${key}: Extra inputs are not permitted`;
  }
  if (body.model === undefined) return 'model: Field required';
  if (typeof body.model !== 'string') return 'model: Input should be a valid string';
  if (body.max_tokens === undefined) return 'max_tokens: Field required';
  if (!Number.isInteger(body.max_tokens)) return 'max_tokens: Input should be a valid integer';
  if (body.max_tokens < (version === '2026-10-21' ? 0 : 1)) return `max_tokens: Input should be greater than or equal to ${version === '2026-10-21' ? 0 : 1}`;
  for (const key of ['temperature', 'top_p'] as const) {
    if (body[key] === undefined) continue;
    if (typeof body[key] !== 'number') return `${key}: Input should be a valid number`;
    if (body[key] < 0) return `${key}: Input should be greater than or equal to 0`;
    if (body[key] > 1) return `${key}: Input should be less than or equal to 1`;
  }
  if (body.stop_sequences !== undefined) {
    if (!Array.isArray(body.stop_sequences) || !body.stop_sequences.every((s: unknown) => typeof s === 'string')) {
      return 'stop_sequences: Input should be a valid list of strings';
    }
    if (body.stop_sequences.some(isBlank)) return 'stop_sequences: each stop sequence must contain non-whitespace';
  }
  if (body.metadata !== undefined) {
    if (!isObject(body.metadata)) return 'metadata: Input should be a valid dictionary';
    for (const key of Object.keys(body.metadata)) if (key !== 'user_id') return `metadata.${key}: Extra inputs are not permitted`;
    if (body.metadata.user_id != null && (typeof body.metadata.user_id !== 'string' || body.metadata.user_id.length > 256)) {
      return 'metadata.user_id: String should have at most 256 characters';
    }
  }
  const system = validateSystem(body.system);
  if (system) return system;
  const tools = validateTools(body.tools, body.tool_choice);
  if (tools) return tools;
  if (body.output_config !== undefined) {
    const format = body.output_config?.format;
    if (!isObject(body.output_config)) return 'output_config: Input should be a valid dictionary';
    if (format != null && (format.type !== 'json_schema' || !isObject(format.schema))) {
      return "output_config.format: expected {\"type\": \"json_schema\", \"schema\": {...}}";
    }
    const effort = body.output_config.effort;
    if (effort != null && !['low', 'medium', 'high', 'xhigh', 'max'].includes(effort)) {
      return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'";
    }
  }
  const thinking = validateThinking(body);
  if (thinking) return thinking;
  return validateMessages(body.messages, version);
}

/** The thinking configuration, and what thinking is incompatible with (Anthropic's extended-thinking and thinking pages). */
function validateThinking(body: Record<string, any>): string | null {
  const thinking = body.thinking;
  if (thinking === undefined) return null;
  if (!isObject(thinking) || !['enabled', 'disabled', 'adaptive', 'between_tools'].includes(thinking.type)) {
    return "thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive', 'between_tools'";
  }
  if (thinking.display != null && !['summarized', 'omitted'].includes(thinking.display)) {
    return `thinking.${thinking.type}.display: Input should be 'summarized' or 'omitted'`;
  }
  if (thinking.type === 'enabled') {
    if (!Number.isInteger(thinking.budget_tokens)) return 'thinking.enabled.budget_tokens: Field required';
    if (thinking.budget_tokens < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
    if (body.max_tokens <= thinking.budget_tokens) {
      return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
    }
  }
  if (!thinkingOn(body)) return null;
  if (body.temperature !== undefined && body.temperature !== 1) {
    return '`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility';
  }
  if (body.top_p !== undefined && body.top_p < 0.95) return '`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled.';
  if (body.top_k !== undefined) return '`top_k` must be unset when thinking is enabled.';
  if (body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool') return 'Thinking may not be enabled when tool_choice forces tool use.';
  const messages: any[] = Array.isArray(body.messages) ? body.messages : [];
  const last = messages.findLastIndex((m) => m?.role === 'assistant');
  const content = Array.isArray(messages[last]?.content) ? messages[last].content : [];
  if (content.some((b: any) => b?.type === 'tool_use') && !['thinking', 'redacted_thinking'].includes(content[0]?.type)) {
    return `messages.${last}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${content[0]?.type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`;
  }
  return null;
}

/** A thinking block sent back must be one the mock signed, unchanged (an omitted-display block has empty text). */
function validateSignature(block: Record<string, any>, at: string): string | null {
  if (typeof block.thinking !== 'string') return `${at}.thinking.thinking: Field required`;
  if (typeof block.signature !== 'string') return `${at}.thinking.signature: Field required`;
  if (!block.signature.startsWith('mocksig:')) return `${at}: Invalid \`signature\` in \`thinking\` block`;
  const signed = Buffer.from(block.signature.slice('mocksig:'.length), 'base64').toString('utf8');
  if (block.thinking !== '' && block.thinking !== signed) return `${at}: Invalid \`signature\` in \`thinking\` block`;
  return null;
}

function validateSystem(system: unknown): string | null {
  if (system === undefined) return null;
  if (typeof system === 'string') return null;
  if (!Array.isArray(system)) return 'system: Input should be a valid string or a list of text blocks';
  for (let k = 0; k < system.length; k++) {
    const block = system[k];
    if (!isObject(block) || block.type !== 'text') return `system.${k}.type: Input should be 'text'`;
    if (typeof block.text !== 'string') return `system.${k}.text: Input should be a valid string`;
    if (block.text === '') return 'system: text content blocks must be non-empty';
    if (isBlank(block.text)) return 'system: text content blocks must contain non-whitespace text';
  }
  return null;
}

function validateTools(tools: unknown, choice: unknown): string | null {
  const names = new Set<string>();
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return 'tools: Input should be a valid list';
    for (let k = 0; k < tools.length; k++) {
      const tool = tools[k];
      if (!isObject(tool)) return `tools.${k}: Input should be a valid dictionary`;
      if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(tool.name)) {
        return `tools.${k}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      }
      if (names.has(tool.name)) return 'tools: Tool names must be unique.';
      names.add(tool.name);
      if (!isObject(tool.input_schema)) return `tools.${k}.custom.input_schema: Field required`;
      if (tool.input_schema.type !== 'object') return `tools.${k}.custom.input_schema.type: Input should be 'object'`;
      if (tool.description !== undefined && typeof tool.description !== 'string') return `tools.${k}.custom.description: Input should be a valid string`;
      for (const key of Object.keys(tool)) {
        if (!['name', 'description', 'input_schema', 'strict', 'cache_control', 'type', 'input_examples', 'defer_loading', 'eager_input_streaming', 'allowed_callers'].includes(key)) {
          return `tools.${k}.custom.${key}: Extra inputs are not permitted`;
        }
      }
    }
  }
  if (choice === undefined) return null;
  if (!isObject(choice) || !['auto', 'any', 'tool', 'none'].includes(choice.type)) {
    return "tool_choice: Input tag found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'";
  }
  if (choice.type === 'tool' && !names.has(choice.name)) return `tool_choice: Tool '${choice.name}' not found in provided tools`;
  if (choice.type === 'none' && choice.disable_parallel_tool_use !== undefined) return 'tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted';
  if (choice.type !== 'none' && names.size === 0) return 'tool_choice: tool_choice may only be specified while providing tools.';
  return null;
}

function validateMessages(messages: unknown, version: (typeof API_VERSIONS)[number]): string | null {
  if (messages === undefined) return 'messages: Field required';
  if (!Array.isArray(messages)) return 'messages: Input should be a valid list';
  if (messages.length === 0) return 'messages: at least one message is required';
  const turns = messages.filter((m) => !(version === '2026-10-21' && isObject(m) && m.role === 'system'));
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m)) return `messages.${i}: Input should be a valid dictionary`;
    if (m.role === 'system' && version === '2023-06-01') {
      return 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.';
    }
    if (!['user', 'assistant', 'system'].includes(m.role)) return `messages.${i}.role: Input should be 'user' or 'assistant'`;
  }
  if (turns[0]?.role !== 'user') return 'messages: first message must use the "user" role';

  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const final = i === messages.length - 1 && m.role === 'assistant';
    if (typeof m.content === 'string') {
      if (m.content === '' && !final) return 'messages: text content blocks must be non-empty';
      if (isBlank(m.content) && m.content !== '' && !final) return 'messages: text content blocks must contain non-whitespace text';
      continue;
    }
    if (!Array.isArray(m.content)) return `messages.${i}.content: Input should be a valid string or a list of content blocks`;
    if (m.content.length === 0 && !final) return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    for (let j = 0; j < m.content.length; j++) {
      const error = validateBlock(m.content[j], m.role, `messages.${i}.content.${j}`);
      if (error) return error;
    }
  }
  return validateToolPairing(messages);
}

function validateBlock(block: unknown, role: string, at: string): string | null {
  if (!isObject(block) || typeof block.type !== 'string') return `${at}: Input should be a valid dictionary with a 'type'`;
  switch (block.type) {
    case 'text':
      if (typeof block.text !== 'string') return `${at}.text.text: Input should be a valid string`;
      if (block.text === '') return 'messages: text content blocks must be non-empty';
      if (isBlank(block.text)) return 'messages: text content blocks must contain non-whitespace text';
      return null;
    case 'image':
      return validateImage(block, `${at}.image`);
    case 'tool_use':
      if (role !== 'assistant') return `${at}: tool_use blocks may only appear in assistant messages`;
      if (typeof block.id !== 'string' || typeof block.name !== 'string') return `${at}.tool_use: id and name are required`;
      if (!isObject(block.input)) return `${at}.tool_use.input: Input should be a valid dictionary`;
      return null;
    case 'tool_result': {
      if (role !== 'user') return `${at}: tool_result blocks may only appear in user messages`;
      if (typeof block.tool_use_id !== 'string') return `${at}.tool_result.tool_use_id: Field required`;
      if (block.content === undefined || typeof block.content === 'string') return null;
      if (!Array.isArray(block.content)) return `${at}.tool_result.content: Input should be a valid string or list`;
      for (let k = 0; k < block.content.length; k++) {
        const inner = block.content[k];
        const innerAt = `${at}.tool_result.content.${k}`;
        if (!isObject(inner) || !['text', 'image'].includes(inner.type)) return `${innerAt}.type: Input should be 'text' or 'image'`;
        const error = validateBlock(inner, role, innerAt);
        if (error) return error;
      }
      return null;
    }
    case 'thinking':
    case 'redacted_thinking':
      if (role !== 'assistant') return `${at}: thinking blocks may only appear in assistant messages`;
      if (block.type === 'redacted_thinking') return typeof block.data === 'string' ? null : `${at}.redacted_thinking.data: Field required`;
      return validateSignature(block, at);
    default:
      return `${at}.type: Input tag '${block.type}' found using 'type' does not match any of the expected tags`;
  }
}

function validateImage(block: Record<string, any>, at: string): string | null {
  const source = block.source;
  if (!isObject(source)) return `${at}.source: Field required`;
  if (source.type === 'url') {
    return typeof source.url === 'string' && /^https?:\/\//.test(source.url) ? null : `${at}.source.url.url: Input should be a valid URL`;
  }
  if (source.type !== 'base64') return `${at}.source: Input tag '${source.type}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`;
  if (!MEDIA_TYPES.includes(source.media_type)) {
    return `${at}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
  }
  if (typeof source.data !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(source.data)) return `${at}.source.base64.data: Invalid base64 data`;
  const actual = sniff(Buffer.from(source.data.slice(0, 24), 'base64'));
  if (actual !== source.media_type) return `${at}.source.base64.data: Image does not match the provided media type ${source.media_type}`;
  const bytes = Math.floor((source.data.length * 3) / 4) - (source.data.endsWith('==') ? 2 : source.data.endsWith('=') ? 1 : 0);
  if (bytes > MAX_IMAGE_BYTES) return `${at}.source.base64: image exceeds 5 MB maximum: ${bytes} bytes > ${MAX_IMAGE_BYTES} bytes`;
  return null;
}

// ---------------------------------------------------------------------------------
// Per-model rules (Anthropic's models overview, the 4.5 / 4.7 release notes, and the
// API's messages for them). Only on what the body sends: on 2026-10-21 the sampling
// fields are already refused for every model by validateMessagesRequest.

const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/** Largest max_tokens per model family, first match wins. */
const OUTPUT_LIMITS: [RegExp, number][] = [
  [/^claude-opus-4-[67]/, 128000],
  [/^claude-(sonnet-4-[56]|haiku-4-5|opus-4-5)/, 64000],
  [/^claude-opus-4/, 32000],
  [/^claude-(sonnet-4|3-7-)/, 64000],
  [/^claude-3-5-/, 8192],
  [/^claude-3-/, 4096],
];
/** Models that refuse non-default sampling: "`temperature` is deprecated for this model." */
const NO_SAMPLING = /^claude-opus-4-[78]|^claude-(sonnet|opus|haiku)-[5-9]/;
/** Models that refuse temperature and top_p together. */
const SAMPLING_XOR = /^claude-(sonnet-4-[56]|haiku-4-5|opus-4-[156])/;

/** Models that take only adaptive thinking ("thinking.type.enabled" is a 400): Opus 4.7 and later, Claude 5. */
const NO_MANUAL_THINKING = /^claude-opus-4-[78]|^claude-(sonnet|opus|haiku)-[5-9]|^claude-(fable|mythos)/;
/** Models that cannot turn thinking off: Claude 5 and later (Opus 5.5's message; Sonnet 5.5 takes between_tools instead). */
const NO_DISABLED_THINKING = /^claude-(sonnet|opus|haiku)-[5-9]|^claude-(fable|mythos)/;
/** Models with only manual thinking (3.7 Sonnet, 4.0 – 4.5); adaptive arrived with 4.6. */
const MANUAL_THINKING_ONLY = /^claude-3-7-|^claude-(opus|sonnet)-4(-0|-\d{8}|$)|^claude-opus-4-1|^claude-(sonnet|haiku|opus)-4-5/;
const ADAPTIVE_HINT = 'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.';

/** The first thing the model named in the body would refuse, as the API's message, or null. */
export function validateModelRules(body: Record<string, any>): string | null {
  const model: string = body.model;
  const thinkingType = body.thinking?.type;
  if (thinkingType === 'enabled' && NO_MANUAL_THINKING.test(model)) return `"thinking.type.enabled" is not supported for this model. ${ADAPTIVE_HINT}`;
  if (thinkingType === 'disabled' && NO_DISABLED_THINKING.test(model)) return `"thinking.type.disabled" is not supported for this model. ${ADAPTIVE_HINT}`;
  // The exact wording of this one is not documented; the status is.
  if (thinkingType === 'adaptive' && MANUAL_THINKING_ONLY.test(model)) return '"thinking.type.adaptive" is not supported for this model. Use "thinking.type.enabled" with "budget_tokens".';
  if (body.output_config?.effort != null && MANUAL_THINKING_ONLY.test(model) && !/^claude-opus-4-5/.test(model)) return '"output_config.effort" is not supported for this model.';
  if (NO_SAMPLING.test(model)) {
    if (body.temperature !== undefined && body.temperature !== 1) return '`temperature` is deprecated for this model.';
    if (body.top_p !== undefined) return '`top_p` is deprecated for this model.';
    if (body.top_k !== undefined) return '`top_k` is deprecated for this model.';
  }
  if (SAMPLING_XOR.test(model) && body.temperature !== undefined && body.top_p !== undefined) {
    return '`temperature` and `top_p` cannot both be specified for this model. Please use only one.';
  }
  const limit = OUTPUT_LIMITS.find(([re]) => re.test(model))?.[1];
  if (limit !== undefined && body.max_tokens > limit) {
    return `max_tokens: ${body.max_tokens} > ${limit}, which is the maximum allowed number of output tokens for ${model}`;
  }
  return null;
}

function sniff(b: Buffer): string | null {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}

/** Each tool_use answered by a tool_result in the very next (user) turn, results first. */
function validateToolPairing(messages: Record<string, any>[]): string | null {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const blocks: Record<string, any>[] = Array.isArray(m.content) ? m.content : [];
    if (m.role === 'assistant') {
      const ids = blocks.filter((b) => b.type === 'tool_use').map((b) => b.id);
      if (ids.length === 0) continue;
      const next = messages[i + 1];
      if (!next) continue; // the last turn: Claude is asked to continue after its own tool call
      const answered = new Set((Array.isArray(next.content) ? next.content : []).filter((b: any) => b.type === 'tool_result').map((b: any) => b.tool_use_id));
      const missing = ids.filter((id) => !answered.has(id));
      if (next.role !== 'user' || missing.length > 0) {
        return `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
    }
    if (m.role === 'user') {
      const previous = messages[i - 1];
      const offered = new Set((previous?.role === 'assistant' && Array.isArray(previous.content) ? previous.content : []).filter((b: any) => b.type === 'tool_use').map((b: any) => b.id));
      let sawOther = false;
      for (let j = 0; j < blocks.length; j++) {
        const b = blocks[j];
        if (b.type !== 'tool_result') {
          sawOther = true;
          continue;
        }
        if (!offered.has(b.tool_use_id)) {
          return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
        }
        if (sawOther) return `messages.${i}: \`tool_result\` blocks must come first in the content of a user message, before any other content.`;
      }
    }
  }
  return null;
}
