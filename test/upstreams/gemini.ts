import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fixtureLines, MockServer, sendJson, type RecordedRequest } from './mock-server';

// A faithful stand-in for the Gemini API (generativelanguage.googleapis.com v1beta):
//   POST /v1beta/models/{model}:generateContent
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse   (without alt=sse: one JSON array)
// API key in `x-goog-api-key` or `?key=`. Built from the REST reference
// (https://ai.google.dev/api/generate-content), Google's error model
// (https://cloud.google.com/apis/design/errors) and error bodies seen from the live
// API (quoted in public issue trackers); responses from ../shared/fixtures/recorded/gemini.
//   - errors: `{"error":{"code","message","status","details"}}`; a wrong key is 400
//     INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID, no key is 403;
//   - SSE: `data: {GenerateContentResponse}\r\n\r\n` per event (CRLF, as Google's front
//     end writes it), no `event:` lines, no [DONE]; usageMetadata on every event,
//     finishReason on the last;
//   - it rejects what the real API rejects (400 INVALID_ARGUMENT), so a translation
//     mistake fails here as it would in production: unknown fields anywhere (proto
//     JSON is strict: "Unknown name … Cannot find field"), roles other than user/model,
//     empty parts or parts with no data, functionCall / functionResponse without a
//     name, a non-object functionResponse.response, malformed base64, image bytes
//     that decode as no image format, a systemInstruction (or tools, or JSON mode) for
//     models without them, unmatched function call/response counts, Gemini 3 function
//     calls without a thought signature, an OBJECT schema without properties in a
//     function declaration, image MIME types other than PNG/JPEG/WebP/HEIC/HEIF,
//     penalties for Gemini 2.5 and later, maxOutputTokens above the model's limit.
// A PNG labelled image/jpeg is accepted: Gemini decodes images by their content.

export const GEMINI_TEST_KEY = 'AIzaSyMOCK-gemini-test-key-0123456789';

const FIXTURES = new URL('../../../shared/fixtures/recorded/gemini/', import.meta.url);
export const geminiFixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');

/** A response the test wants next, instead of the default echo. */
export type GeminiScripted =
  | { status: number; body: unknown; headers?: Record<string, string> }
  /**
   * SSE events (objects are JSON-encoded). abortAfter cuts the connection after that
   * many events; holdAfter waits for `hold` after that many (to see what reached the
   * client meanwhile).
   */
  | { sse: (string | object)[]; abortAfter?: number; delayMs?: number; holdAfter?: number; hold?: Promise<unknown> }
  | { raw: string; status?: number; contentType?: string }
  /** A recorded file from shared/fixtures/recorded/gemini, replayed as the live API sent it. */
  | { fixture: string };

export interface GeminiMock {
  server: MockServer;
  url: string;
  script: GeminiScripted[];
  /** Streams whose connection the gateway closed before the mock finished them. */
  readonly cancelledStreams: number;
  close(): Promise<void>;
}

interface MockState {
  script: GeminiScripted[];
  cancelledStreams: number;
}

export async function startGeminiMock(): Promise<GeminiMock> {
  const state: MockState = { script: [], cancelledStreams: 0 };
  const server = await MockServer.start((req, res) => handle(req, res, state));
  return {
    server,
    url: server.url,
    script: state.script,
    get cancelledStreams() {
      return state.cancelledStreams;
    },
    close: () => server.close(),
  };
}

const ROUTE = /^\/v1beta\/(models|tunedModels)\/([^/:]+):(generateContent|streamGenerateContent)$/;
const KNOWN_MODEL = /^(gemini|gemma|learnlm)-[a-z0-9.-]+$/;

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly status: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
  }
}

const invalid = (message: string) => new ApiError(400, 'INVALID_ARGUMENT', message);

async function handle(req: RecordedRequest, res: ServerResponse, state: MockState) {
  const route = ROUTE.exec(req.path);
  if (req.method !== 'POST' || !route) {
    // Google's front end answers unknown URLs with an HTML page.
    res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
    return res.end(`<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>${req.path}</code> was not found on this server.  <ins>That’s all we know.</ins>`);
  }
  const [, collection, model, method] = route;
  const stream = method === 'streamGenerateContent';
  const sse = req.query.get('alt') === 'sse';
  try {
    checkKey(req);
    if (req.body === undefined || typeof req.body !== 'object' || Array.isArray(req.body)) {
      throw invalid(`Invalid JSON payload received. Unexpected token.\n${req.rawBody.slice(0, 20)}\n^`);
    }
    if (collection === 'models' && !KNOWN_MODEL.test(model)) {
      throw new ApiError(404, 'NOT_FOUND', `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`);
    }
    validateRequest(req.body, model);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return sendError(res, error);
  }

  const next = state.script.shift();
  if (next) return replay(next, res, stream, state);
  const responses = echo(req.body, model, stream);
  if (!stream) return sendJson(res, 200, responses[0]);
  return sse ? writeSse(res, responses, state) : sendJson(res, 200, responses);
}

function sendError(res: ServerResponse, error: ApiError, headers: Record<string, string> = {}) {
  sendJson(res, error.code, { error: { code: error.code, message: error.message, status: error.status, ...(error.details ? { details: error.details } : {}) } }, headers);
}

function checkKey(req: RecordedRequest) {
  const key = req.headers['x-goog-api-key'] ?? req.query.get('key');
  if (!key) {
    throw new ApiError(
      403,
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
  }
  if (key !== GEMINI_TEST_KEY) {
    throw new ApiError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
    ]);
  }
}

// ---------------------------------------------------------------- validation

type Json = Record<string, any>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

// Fields of each message type (proto JSON takes lowerCamel or the proto's snake_case names).
const FIELDS = {
  request: ['model', 'contents', 'systemInstruction', 'tools', 'toolConfig', 'safetySettings', 'generationConfig', 'cachedContent'],
  content: ['role', 'parts'],
  part: ['text', 'inlineData', 'functionCall', 'functionResponse', 'fileData', 'executableCode', 'codeExecutionResult', 'thought', 'thoughtSignature', 'videoMetadata', 'partMetadata', 'mediaResolution'],
  blob: ['mimeType', 'data'],
  functionCall: ['id', 'name', 'args'],
  functionResponse: ['id', 'name', 'response', 'parts', 'willContinue', 'scheduling'],
  generationConfig: [
    'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'responseModalities', 'candidateCount', 'maxOutputTokens',
    'temperature', 'topP', 'topK', 'seed', 'presencePenalty', 'frequencyPenalty', 'responseLogprobs', 'logprobs',
    'enableEnhancedCivicAnswers', 'speechConfig', 'thinkingConfig', 'imageConfig', 'mediaResolution',
  ],
  thinkingConfig: ['includeThoughts', 'thinkingBudget', 'thinkingLevel'],
  safetySetting: ['category', 'threshold'],
  tool: ['functionDeclarations', 'googleSearchRetrieval', 'codeExecution', 'googleSearch', 'urlContext', 'computerUse', 'fileSearch', 'googleMaps'],
  functionDeclaration: ['name', 'description', 'behavior', 'parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema'],
  toolConfig: ['functionCallingConfig', 'retrievalConfig'],
  functionCallingConfig: ['mode', 'allowedFunctionNames'],
  schema: [
    'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required', 'minProperties',
    'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering', 'default', 'items', 'minimum', 'maximum',
  ],
} as const;

const ENUMS = {
  Type: ['TYPE_UNSPECIFIED', 'STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL'],
  Mode: ['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED'],
  HarmCategory: [
    'HARM_CATEGORY_UNSPECIFIED', 'HARM_CATEGORY_DEROGATORY', 'HARM_CATEGORY_TOXICITY', 'HARM_CATEGORY_VIOLENCE', 'HARM_CATEGORY_SEXUAL',
    'HARM_CATEGORY_MEDICAL', 'HARM_CATEGORY_DANGEROUS', 'HARM_CATEGORY_HARASSMENT', 'HARM_CATEGORY_HATE_SPEECH',
    'HARM_CATEGORY_SEXUALLY_EXPLICIT', 'HARM_CATEGORY_DANGEROUS_CONTENT', 'HARM_CATEGORY_CIVIC_INTEGRITY',
  ],
  HarmBlockThreshold: ['HARM_BLOCK_THRESHOLD_UNSPECIFIED', 'BLOCK_LOW_AND_ABOVE', 'BLOCK_MEDIUM_AND_ABOVE', 'BLOCK_ONLY_HIGH', 'BLOCK_NONE', 'OFF'],
};

function checkFields(obj: unknown, type: keyof typeof FIELDS, at: string): Json {
  if (!isObject(obj)) {
    throw invalid(`Invalid JSON payload received. Expected an object at '${at || 'request'}'.`);
  }
  const allowed: readonly string[] = FIELDS[type];
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key) && !allowed.includes(camel(key))) {
      throw invalid(`Invalid JSON payload received. Unknown name "${key}"${at ? ` at '${at}'` : ''}: Cannot find field.`);
    }
  }
  return obj;
}

function checkEnum(value: unknown, values: string[], enumName: string, at: string) {
  // Google's JSON parser takes enum names in either case (the JS SDKs send "object").
  if (typeof value !== 'string' || !values.includes(value.toUpperCase())) {
    throw invalid(`Invalid value at '${at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.${enumName}), ${JSON.stringify(value)}`);
  }
}

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;
function checkBytes(value: unknown, at: string) {
  if (typeof value !== 'string' || !BASE64_RE.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
    throw invalid(`Invalid value at '${at}' (TYPE_BYTES), Base64 decoding failed for "${String(value).slice(0, 40)}"`);
  }
}

const get = (obj: Json, name: string) => obj[name] ?? obj[snake(name)];

const noSystemInstruction = (model: string) => /^gemma-|^gemini-(1\.0-)?pro(-vision)?(-\d{3}|-latest)?$/.test(model);
const isGemma = (model: string) => model.startsWith('gemma-');
const noPenalties = (model: string) => /^gemini-(2\.5|[3-9]|\d{2})|^gemini-2\.0-.*thinking|^gemini-exp-/.test(model);
const outputLimitOf = (model: string) =>
  /^gemini-(2\.5|[3-9]|\d{2})/.test(model) ? 65536 : /^gemini-(1\.5|2\.0)-/.test(model) ? 8192 : undefined;
const IMAGE_MIME_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'];
const isGemini3 = (model: string) => /^gemini-([3-9]|\d{2,})/.test(model);

function validateRequest(body: Json, model: string) {
  checkFields(body, 'request', '');
  const contents = get(body, 'contents');
  if (!Array.isArray(contents) || contents.length === 0) throw invalid('* GenerateContentRequest.contents: contents is not specified\n');
  contents.forEach((c, i) => validateContent(c, `contents[${i}]`, true));

  const system = get(body, 'systemInstruction');
  if (system !== undefined) {
    validateContent(system, 'system_instruction', false);
    if (noSystemInstruction(model)) throw invalid(`Developer instruction is not enabled for models/${model}`);
  }

  const config = get(body, 'generationConfig');
  if (config !== undefined) {
    checkFields(config, 'generationConfig', 'generation_config');
    const thinking = get(config, 'thinkingConfig');
    if (thinking !== undefined) {
      checkFields(thinking, 'thinkingConfig', 'generation_config.thinking_config');
      // A budget and a level together are refused (wording not confirmed); 2.5 Pro always thinks.
      if (get(thinking, 'thinkingBudget') !== undefined && get(thinking, 'thinkingLevel') !== undefined) {
        throw invalid('thinking_budget and thinking_level are not supported together.');
      }
      if (get(thinking, 'thinkingBudget') === 0 && /^gemini-2\.5-pro/.test(model)) {
        throw invalid('Budget 0 is invalid. This model only works in thinking mode.');
      }
    }
    const schema = get(config, 'responseSchema');
    if (schema !== undefined) validateSchema(schema, 'generation_config.response_schema');
    if (isGemma(model) && String(get(config, 'responseMimeType') ?? '').startsWith('application/json')) {
      throw invalid(`JSON mode is not enabled for models/${model}`);
    }
    // Gemini 2.5 and later (and the thinking / experimental 2.0 models) have no penalties.
    if ((get(config, 'presencePenalty') !== undefined || get(config, 'frequencyPenalty') !== undefined) && noPenalties(model)) {
      throw invalid(`Penalty is not enabled for models/${model}`);
    }
    const maxOutput = get(config, 'maxOutputTokens');
    const outputLimit = outputLimitOf(model);
    // Wording as Vertex AI gives it (the Gemini API's own text for this case was not found).
    if (typeof maxOutput === 'number' && outputLimit !== undefined && maxOutput > outputLimit) {
      throw invalid(`Unable to submit request because it has a maxOutputTokens value of ${maxOutput} but the supported range is from 1 (inclusive) to ${outputLimit + 1} (exclusive). Update the value and try again.`);
    }
  }

  const safety = get(body, 'safetySettings');
  if (safety !== undefined) {
    if (!Array.isArray(safety)) throw invalid("Invalid value at 'safety_settings': expected a list.");
    safety.forEach((s, i) => {
      const setting = checkFields(s, 'safetySetting', `safety_settings[${i}]`);
      checkEnum(setting.category, ENUMS.HarmCategory, 'HarmCategory', `safety_settings[${i}].category`);
      checkEnum(setting.threshold, ENUMS.HarmBlockThreshold, 'SafetySetting.HarmBlockThreshold', `safety_settings[${i}].threshold`);
    });
  }

  const tools = get(body, 'tools');
  if (tools !== undefined) {
    if (!Array.isArray(tools)) throw invalid("Invalid value at 'tools': expected a list.");
    if (isGemma(model) && tools.length > 0) throw invalid(`Function calling is not enabled for models/${model}`);
    tools.forEach((t, i) => {
      const tool = checkFields(t, 'tool', `tools[${i}]`);
      (get(tool, 'functionDeclarations') ?? []).forEach((d: unknown, j: number) => {
        const at = `tools[${i}].function_declarations[${j}]`;
        const declaration = checkFields(d, 'functionDeclaration', at);
        if (typeof declaration.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/.test(declaration.name)) {
          throw invalid(`* GenerateContentRequest.${at}.name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 128.\n`);
        }
        if (declaration.parameters !== undefined) {
          validateSchema(declaration.parameters, `${at}.parameters`);
          const type = String(declaration.parameters.type ?? '').toUpperCase();
          if (type === 'OBJECT' && Object.keys(declaration.parameters.properties ?? {}).length === 0) {
            throw invalid(`* GenerateContentRequest.${at}.parameters.properties: should be non-empty for OBJECT type\n`);
          }
        }
      });
    });
  }

  const toolConfig = get(body, 'toolConfig');
  if (toolConfig !== undefined) {
    const fcc = get(checkFields(toolConfig, 'toolConfig', 'tool_config'), 'functionCallingConfig');
    if (fcc !== undefined) checkEnum(checkFields(fcc, 'functionCallingConfig', 'tool_config.function_calling_config').mode, ENUMS.Mode, 'FunctionCallingConfig.Mode', 'tool_config.function_calling_config.mode');
  }

  validateFunctionTurns(contents, model);
}

function validateContent(content: unknown, at: string, conversation: boolean) {
  const c = checkFields(content, 'content', at);
  if (conversation && c.role !== 'user' && c.role !== 'model') throw invalid('Please use a valid role: user, model.');
  if (!Array.isArray(c.parts) || c.parts.length === 0) throw invalid(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.\n`);
  c.parts.forEach((p: unknown, j: number) => validatePart(p, `${at}.parts[${j}]`));
}

function validatePart(p: unknown, at: string) {
  const part = checkFields(p, 'part', at);
  const data = ['text', 'inlineData', 'functionCall', 'functionResponse', 'fileData', 'executableCode', 'codeExecutionResult'].filter((k) => {
    const v = get(part, k);
    return v !== undefined && v !== null && v !== '';
  });
  if (data.length === 0) throw invalid(`* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field\n`);
  if (data.length > 1) throw invalid(`Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${data[1]}'`);
  const signature = get(part, 'thoughtSignature');
  if (signature !== undefined) checkBytes(signature, `${at}.thought_signature`);

  const inline = get(part, 'inlineData');
  if (inline !== undefined) {
    const blob = checkFields(inline, 'blob', `${at}.inline_data`);
    const mimeType = get(blob, 'mimeType');
    if (typeof mimeType !== 'string' || !mimeType) throw invalid(`* GenerateContentRequest.${at}.inline_data.mime_type: Mime type is not specified.\n`);
    checkBytes(blob.data, `${at}.inline_data.data`);
    // "Supported formats": PNG, JPEG, WebP, HEIC, HEIF; a GIF is refused by its MIME type.
    if (mimeType.startsWith('image/') && !IMAGE_MIME_TYPES.includes(mimeType)) throw invalid(`Unsupported MIME type: ${mimeType}`);
    if (mimeType.startsWith('image/') && !isImage(Buffer.from(blob.data, 'base64'))) {
      throw invalid('Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
    }
  }
  const call = get(part, 'functionCall');
  if (call !== undefined) {
    const fc = checkFields(call, 'functionCall', `${at}.function_call`);
    if (typeof fc.name !== 'string' || !fc.name) throw invalid(`* GenerateContentRequest.${at}.function_call.name: Name cannot be empty.\n`);
    if (fc.args !== undefined && !isObject(fc.args)) {
      throw invalid(`Invalid value at '${at}.function_call.args' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(fc.args).slice(0, 40)}`);
    }
  }
  const response = get(part, 'functionResponse');
  if (response !== undefined) {
    const fr = checkFields(response, 'functionResponse', `${at}.function_response`);
    if (typeof fr.name !== 'string' || !fr.name) throw invalid(`* GenerateContentRequest.${at}.function_response.name: Name cannot be empty.\n`);
    if (!isObject(fr.response)) {
      throw invalid(`Invalid value at '${at}.function_response.response' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(fr.response ?? null).slice(0, 40)}`);
    }
  }
}

function isImage(bytes: Buffer): boolean {
  const at = (i: number, ...v: number[]) => v.every((b, k) => bytes[i + k] === b);
  return (
    at(0, 0x89, 0x50, 0x4e, 0x47) || // PNG
    at(0, 0xff, 0xd8, 0xff) || // JPEG
    at(0, 0x47, 0x49, 0x46, 0x38) || // GIF
    (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) || // WebP
    at(4, 0x66, 0x74, 0x79, 0x70) // HEIC / HEIF (ftyp box)
  );
}

function validateSchema(schema: unknown, at: string) {
  const s = checkFields(schema, 'schema', at);
  if (s.type !== undefined) checkEnum(s.type, ENUMS.Type, 'Type', `${at}.type`);
  if (s.enum !== undefined && (!Array.isArray(s.enum) || s.enum.some((v: unknown) => typeof v !== 'string'))) {
    throw invalid(`Invalid value at '${at}.enum[0]' (TYPE_STRING), ${JSON.stringify(s.enum?.[0])}`);
  }
  for (const [name, sub] of Object.entries(s.properties ?? {})) validateSchema(sub, `${at}.properties[${JSON.stringify(name)}].value`);
  if (s.items !== undefined) validateSchema(s.items, `${at}.items`);
  (s.anyOf ?? s.any_of ?? []).forEach((sub: unknown, i: number) => validateSchema(sub, `${at}.any_of[${i}]`));
}

/**
 * Function-calling turn rules: the user turn after a model turn with N function
 * calls answers with N function responses; and Gemini 3 wants a thought signature
 * on the first function call of every model step in the current turn (the part of
 * the conversation after the last user message that is not a function response).
 */
function validateFunctionTurns(contents: Json[], model: string) {
  const calls = (c: Json) => c.parts.filter((p: Json) => get(p, 'functionCall') !== undefined);
  const responses = (c: Json) => c.parts.filter((p: Json) => get(p, 'functionResponse') !== undefined);
  contents.forEach((c, i) => {
    if (c.role !== 'model') return;
    const n = calls(c).length;
    const next = contents[i + 1];
    if (n > 0 && next && (next.role !== 'user' || responses(next).length !== n)) {
      throw invalid(
        'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
      );
    }
  });
  if (!isGemini3(model)) return;
  let turnStart = 0;
  contents.forEach((c, i) => {
    if (c.role === 'user' && responses(c).length === 0) turnStart = i;
  });
  contents.slice(turnStart).forEach((c) => {
    const fc = c.role === 'model' ? calls(c) : [];
    if (fc.length > 0 && !get(fc[0], 'thoughtSignature')) {
      const position = c.parts.indexOf(fc[0]) + 1;
      throw invalid(
        `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${get(fc[0], 'functionCall').name}\` , position ${position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      );
    }
  });
}

// ---------------------------------------------------------------- responses

function replay(next: GeminiScripted, res: ServerResponse, stream: boolean, state: MockState) {
  if ('fixture' in next) {
    const text = geminiFixture(next.fixture);
    if (next.fixture.endsWith('.chunks.txt')) {
      if (!stream) throw new Error(`${next.fixture} is a stream; the request was not`);
      return writeSse(res, fixtureLines(text), state);
    }
    const body = JSON.parse(text);
    if (body.error) return sendJson(res, body.error.code, body);
    return stream ? writeSse(res, [text.replace(/\s*\n\s*/g, '')], state) : sendJson(res, 200, body);
  }
  if ('sse' in next) return writeSse(res, next.sse, state, next);
  if ('raw' in next) {
    res.writeHead(next.status ?? 200, { 'content-type': next.contentType ?? 'text/plain' });
    return res.end(next.raw);
  }
  return sendJson(res, next.status, next.body, next.headers);
}

/** Gemini's SSE framing: `data: <json>\r\n\r\n`, each event flushed on its own. */
async function writeSse(
  res: ServerResponse,
  events: (string | object)[],
  state: MockState,
  options: { abortAfter?: number; delayMs?: number; holdAfter?: number; hold?: Promise<unknown> } = {},
) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  let cutByMock = false;
  res.on('close', () => {
    if (!res.writableEnded && !cutByMock) state.cancelledStreams++;
  });
  for (let i = 0; i < events.length; i++) {
    if (options.holdAfter === i) await options.hold;
    if (res.destroyed) return;
    if (options.abortAfter !== undefined && i === options.abortAfter) {
      await new Promise<void>((resolve) => res.write('', () => setTimeout(resolve, 20)));
      cutByMock = true;
      res.destroy();
      return;
    }
    const e = events[i];
    res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\r\n\r\n`);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
  }
  res.end();
}

let responseCounter = 0;

/**
 * The default answer: "echo: " and the last user turn's text (or, after tool
 * results, the function responses), as one response or a stream of word pieces.
 */
function echo(body: Json, model: string, stream: boolean): Json[] {
  const contents: Json[] = body.contents;
  const last = [...contents].reverse().find((c) => c.role === 'user');
  const said = (last?.parts ?? [])
    .map((p: Json) => {
      const fr = get(p, 'functionResponse');
      if (fr) return `${fr.name} → ${JSON.stringify(fr.response)}`;
      return typeof p.text === 'string' ? p.text : get(p, 'inlineData') ? `[${get(get(p, 'inlineData'), 'mimeType')}]` : '';
    })
    .filter(Boolean)
    .join(' ');
  const text = `echo: ${said}`;
  const config = get(body, 'generationConfig') ?? {};
  const n = get(config, 'candidateCount') ?? 1;
  const promptTokenCount = JSON.stringify(contents).split(/\s+/).length;
  const responseId = `mock${String(++responseCounter).padStart(6, '0')}${Date.now().toString(36)}`;
  // Thought summaries, when asked for (thinkingConfig.includeThoughts): a part with thought: true before the answer.
  const thought = get(get(config, 'thinkingConfig') ?? {}, 'includeThoughts') === true ? `Thinking about: ${said}` : '';
  const thoughtsTokenCount = thought ? thought.split(/\s+/).length * n : 0;
  const usage = (candidatesTokenCount: number) => ({
    promptTokenCount,
    candidatesTokenCount,
    totalTokenCount: promptTokenCount + candidatesTokenCount + thoughtsTokenCount,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokenCount }],
    ...(thoughtsTokenCount ? { thoughtsTokenCount } : {}),
  });
  const candidates = (piece: string, finish: boolean, thinking = '') =>
    Array.from({ length: n }, (_, index) => ({
      content: { parts: [...(thinking ? [{ text: thinking, thought: true }] : []), ...(piece ? [{ text: piece }] : [])], role: 'model' },
      ...(finish ? { finishReason: 'STOP' } : {}),
      index,
    }));
  const words = text.split(/(?<= )/);
  if (!stream) {
    return [{ candidates: candidates(text, true, thought), usageMetadata: usage(words.length * n), modelVersion: model, responseId }];
  }
  const events = words.map((word, i) => ({
    candidates: candidates(word, i === words.length - 1),
    usageMetadata: usage((i + 1) * n),
    modelVersion: model,
    responseId,
  }));
  return thought ? [{ candidates: candidates('', false, thought), usageMetadata: usage(0), modelVersion: model, responseId }, ...events] : events;
}
