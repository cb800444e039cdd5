import { checkImageDataUrlEnvelope } from './data-url';
import { badRequest } from './errors';
import type { ChatCompletionRequest } from './types';

// Validates the fields the gateway reads; everything else is passed on untouched
// (OpenAI-compatible upstreams take parameters this gateway has never heard of).
// Each error names the exact parameter path, as OpenAI's own errors do.

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const PART_TYPES: Record<string, Set<string>> = {
  system: new Set(['text']),
  developer: new Set(['text']),
  user: new Set(['text', 'image_url', 'input_audio', 'file']),
  assistant: new Set(['text', 'refusal']),
  tool: new Set(['text', 'image_url']),
  function: new Set(['text']),
};
const TOOL_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const LONE_SURROGATE_RE = /[\uD800-\uDFFF]/u;
/** JSON nesting allowed in a tool or response schema: far past any real schema, well short of a stack overflow in the translators' recursive schema conversions. */
const MAX_SCHEMA_DEPTH = 100;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** What validation needs to know about this gateway. */
export interface ValidationLimits {
  /** Largest decoded image in a `data:` URL; when set, every such URL's header and size are checked (413 above it). */
  maxImageBytes?: number;
}

function fail(param: string, message: string, code: string = 'invalid_value'): never {
  throw badRequest(`Invalid value for '${param}': ${message}`, param, code);
}

function expectType(value: unknown, param: string, expected: 'string' | 'boolean' | 'object' | 'array') {
  const actual = typeName(value);
  if (actual !== expected) fail(param, `expected ${expected === 'array' ? 'an array' : `a ${expected}`}, got ${actual}.`, 'invalid_type');
}

function checkNumber(body: Json, key: string, min: number, max: number, integer = false) {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number') fail(key, `expected a number, got ${typeName(v)}.`, 'invalid_type');
  // JSON numbers beyond float range (1e400) parse as Infinity.
  if (!Number.isFinite(v)) fail(key, 'expected a finite number.', 'invalid_value');
  if (integer && !Number.isInteger(v)) fail(key, `expected an integer, got ${v}.`, 'invalid_type');
  if (v < min || v > max) fail(key, `${v} is outside the allowed range ${min} to ${max}.`, 'invalid_value');
}

/** Parses raw request text into a validated chat-completion request or throws a 400. */
export function parseChatRequest(text: string, limits: ValidationLimits = {}): ChatCompletionRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw badRequest(
      `The request body is not valid JSON (${e instanceof Error ? e.message : 'parse error'}).`,
      null,
      'invalid_json',
    );
  }
  validateChatRequest(body, limits);
  return body;
}

export function validateChatRequest(body: unknown, limits: ValidationLimits = {}): asserts body is ChatCompletionRequest {
  if (!isObject(body)) throw badRequest(`The request body must be a JSON object, got ${typeName(body)}.`, null, 'invalid_type');

  if (body.model === undefined) throw badRequest("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  expectType(body.model, 'model', 'string');
  if ((body.model as string).length === 0 || (body.model as string).length > 256) fail('model', 'must be 1 to 256 characters.');
  // A lone surrogate cannot be put in a URL (Azure deployments are path segments) or named by any upstream.
  if (LONE_SURROGATE_RE.test(body.model as string)) fail('model', 'is not well-formed Unicode.');

  if (body.messages === undefined) throw badRequest("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  expectType(body.messages, 'messages', 'array');
  const messages = body.messages as unknown[];
  if (messages.length === 0) fail('messages', 'expected a non-empty array of messages.', 'empty_array');
  messages.forEach((m, i) => validateMessage(m, `messages[${i}]`, limits));

  for (const key of ['stream', 'logprobs', 'parallel_tool_calls'] as const) {
    if (body[key] !== undefined && body[key] !== null) expectType(body[key], key, 'boolean');
  }
  if (body.stream_options !== undefined && body.stream_options !== null) {
    expectType(body.stream_options, 'stream_options', 'object');
    const include = (body.stream_options as Json).include_usage;
    if (include !== undefined && include !== null) expectType(include, 'stream_options.include_usage', 'boolean');
  }
  checkNumber(body, 'temperature', 0, 2);
  checkNumber(body, 'top_p', 0, 1);
  checkNumber(body, 'n', 1, 128, true);
  checkNumber(body, 'max_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  checkNumber(body, 'max_completion_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  checkNumber(body, 'presence_penalty', -2, 2);
  checkNumber(body, 'frequency_penalty', -2, 2);
  checkNumber(body, 'top_logprobs', 0, 20, true);
  // OpenAI's seed is an int64; clients draw it from the whole range (beyond 2^53 it is rounded, as in any JS client).
  checkNumber(body, 'seed', -(2 ** 63), 2 ** 63, true);

  if (body.stop !== undefined && body.stop !== null) {
    if (Array.isArray(body.stop)) {
      if (body.stop.length > 4) fail('stop', `at most 4 stop sequences are allowed, got ${body.stop.length}.`);
      body.stop.forEach((s, i) => expectType(s, `stop[${i}]`, 'string'));
    } else expectType(body.stop, 'stop', 'string');
  }
  if (body.user !== undefined && body.user !== null) expectType(body.user, 'user', 'string');
  if (body.logit_bias !== undefined && body.logit_bias !== null) expectType(body.logit_bias, 'logit_bias', 'object');

  if (body.tools !== undefined && body.tools !== null) validateTools(body.tools);
  if (body.tool_choice !== undefined && body.tool_choice !== null) validateToolChoice(body.tool_choice, body.tools);
  if (body.response_format !== undefined && body.response_format !== null) validateResponseFormat(body.response_format);
}

function validateMessage(m: unknown, at: string, limits: ValidationLimits) {
  if (!isObject(m)) fail(at, `expected a message object, got ${typeName(m)}.`, 'invalid_type');
  if (m.role === undefined) throw badRequest(`Missing required parameter: '${at}.role'.`, `${at}.role`, 'missing_required_parameter');
  if (typeof m.role !== 'string' || !ROLES.has(m.role)) {
    fail(`${at}.role`, `expected one of ${[...ROLES].join(', ')}, got ${typeof m.role === 'string' ? JSON.stringify(m.role.slice(0, 40)) : typeName(m.role)}.`, 'invalid_value');
  }
  const role = m.role;
  const content = m.content;
  if (content === undefined || content === null) {
    // Only an assistant turn that calls tools (or a legacy function_call) may omit content.
    if (role !== 'assistant') throw badRequest(`Missing required parameter: '${at}.content'.`, `${at}.content`, 'missing_required_parameter');
    if (m.tool_calls === undefined && m.function_call === undefined) {
      fail(`${at}.content`, 'an assistant message needs content or tool_calls.', 'missing_required_parameter');
    }
  } else if (Array.isArray(content)) {
    if (content.length === 0) fail(`${at}.content`, 'expected a string or a non-empty array of content parts.', 'empty_array');
    content.forEach((p, j) => validatePart(p, role, `${at}.content[${j}]`, limits));
  } else if (typeof content !== 'string') {
    fail(`${at}.content`, `expected a string or an array of content parts, got ${typeName(content)}.`, 'invalid_type');
  }
  if (m.name !== undefined) expectType(m.name, `${at}.name`, 'string');
  if (role === 'tool') {
    if (m.tool_call_id === undefined) throw badRequest(`Missing required parameter: '${at}.tool_call_id'.`, `${at}.tool_call_id`, 'missing_required_parameter');
    expectType(m.tool_call_id, `${at}.tool_call_id`, 'string');
  }
  if (m.tool_calls !== undefined && m.tool_calls !== null) {
    if (role !== 'assistant') fail(`${at}.tool_calls`, 'only assistant messages may carry tool_calls.');
    expectType(m.tool_calls, `${at}.tool_calls`, 'array');
    (m.tool_calls as unknown[]).forEach((call, k) => validateToolCall(call, `${at}.tool_calls[${k}]`));
  }
}

function validatePart(p: unknown, role: string, at: string, limits: ValidationLimits) {
  if (!isObject(p)) fail(at, `expected a content part object, got ${typeName(p)}.`, 'invalid_type');
  if (typeof p.type !== 'string') fail(`${at}.type`, 'expected a string.', 'invalid_type');
  if (!PART_TYPES[role].has(p.type)) {
    fail(`${at}.type`, `'${p.type.slice(0, 40)}' parts are not allowed in ${role} messages (allowed: ${[...PART_TYPES[role]].join(', ')}).`, 'invalid_value');
  }
  if (p.type === 'text') expectType(p.text, `${at}.text`, 'string');
  if (p.type === 'refusal') expectType(p.refusal, `${at}.refusal`, 'string');
  if (p.type === 'image_url') {
    expectType(p.image_url, `${at}.image_url`, 'object');
    const image = p.image_url as Json;
    expectType(image.url, `${at}.image_url.url`, 'string');
    const url = image.url as string;
    if (!url.startsWith('data:') && !url.startsWith('https://') && !url.startsWith('http://')) {
      fail(`${at}.image_url.url`, 'expected a data: URL or an http(s) URL.', 'invalid_image_url');
    }
    if (url.startsWith('data:') && limits.maxImageBytes !== undefined) checkImageDataUrlEnvelope(url, `${at}.image_url.url`, limits.maxImageBytes);
    if (image.detail !== undefined && image.detail !== null && !['auto', 'low', 'high'].includes(image.detail as string)) {
      fail(`${at}.image_url.detail`, "expected 'auto', 'low' or 'high'.", 'invalid_value');
    }
  }
}

function validateToolCall(call: unknown, at: string) {
  if (!isObject(call)) fail(at, `expected a tool call object, got ${typeName(call)}.`, 'invalid_type');
  expectType(call.id, `${at}.id`, 'string');
  if (call.type !== undefined && call.type !== 'function') fail(`${at}.type`, "expected 'function'.", 'invalid_value');
  expectType(call.function, `${at}.function`, 'object');
  const fn = call.function as Json;
  expectType(fn.name, `${at}.function.name`, 'string');
  expectType(fn.arguments, `${at}.function.arguments`, 'string');
}

function validateTools(tools: unknown) {
  expectType(tools, 'tools', 'array');
  (tools as unknown[]).forEach((tool, i) => {
    const at = `tools[${i}]`;
    if (!isObject(tool)) fail(at, `expected a tool object, got ${typeName(tool)}.`, 'invalid_type');
    if (tool.type !== 'function') fail(`${at}.type`, "only 'function' tools are supported.", 'invalid_value');
    expectType(tool.function, `${at}.function`, 'object');
    const fn = tool.function as Json;
    expectType(fn.name, `${at}.function.name`, 'string');
    if (!TOOL_NAME_RE.test(fn.name as string)) {
      fail(`${at}.function.name`, 'must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -.', 'invalid_value');
    }
    if (fn.description !== undefined) expectType(fn.description, `${at}.function.description`, 'string');
    if (fn.parameters !== undefined) {
      expectType(fn.parameters, `${at}.function.parameters`, 'object');
      checkSchemaDepth(fn.parameters, `${at}.function.parameters`);
    }
  });
}

function validateToolChoice(choice: unknown, tools: unknown) {
  if (typeof choice === 'string') {
    if (!['auto', 'none', 'required'].includes(choice)) fail('tool_choice', "expected 'auto', 'none', 'required' or a named function.", 'invalid_value');
    if (choice === 'required' && !(Array.isArray(tools) && tools.length > 0)) fail('tool_choice', "'required' needs at least one tool in 'tools'.");
    return;
  }
  if (!isObject(choice) || choice.type !== 'function' || !isObject(choice.function) || typeof choice.function.name !== 'string') {
    fail('tool_choice', "expected 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.", 'invalid_value');
  }
  const name = (choice.function as Json).name as string;
  if (!Array.isArray(tools) || !tools.some((t) => isObject(t) && isObject(t.function) && t.function.name === name)) {
    fail('tool_choice', `names the function '${name.slice(0, 64)}', which is not in 'tools'.`);
  }
}

function validateResponseFormat(format: unknown) {
  expectType(format, 'response_format', 'object');
  const f = format as Json;
  if (!['text', 'json_object', 'json_schema'].includes(f.type as string)) {
    fail('response_format.type', "expected 'text', 'json_object' or 'json_schema'.", 'invalid_value');
  }
  if (f.type === 'json_schema') {
    expectType(f.json_schema, 'response_format.json_schema', 'object');
    const js = f.json_schema as Json;
    expectType(js.name, 'response_format.json_schema.name', 'string');
    if (js.schema !== undefined) {
      expectType(js.schema, 'response_format.json_schema.schema', 'object');
      checkSchemaDepth(js.schema, 'response_format.json_schema.schema');
    }
  }
}

/** Refuses a schema nested deeper than MAX_SCHEMA_DEPTH, counted without recursion (clients can send 100k levels). */
function checkSchemaDepth(schema: unknown, param: string) {
  const stack: [value: unknown, depth: number][] = [[schema, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > MAX_SCHEMA_DEPTH) fail(param, `nests deeper than ${MAX_SCHEMA_DEPTH} levels.`);
    for (const child of Array.isArray(value) ? value : Object.values(value as Json)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
}
