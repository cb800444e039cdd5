import type { ServerResponse } from 'node:http';
import { MockServer, sendJson, sendSse, type RecordedRequest, type SseEventOut } from './mock-server';

// A faithful stand-in for OpenAI's and Azure OpenAI's chat-completions endpoints:
//   OpenAI  POST /v1/chat/completions                      Authorization: Bearer <key>
//   Azure   POST /openai/deployments/{d}/chat/completions?api-version=…   api-key: <key>
// Error bodies, SSE framing (`data: {json}\n\n` … `data: [DONE]\n\n`, no `event:` lines),
// the usage chunk of `stream_options.include_usage` (empty `choices`) and Azure's
// opening `prompt_filter_results` chunk follow the live APIs and ../shared/fixtures.
// Per-model rules (modelRule below) refuse what the live API refuses for that model.

export const OPENAI_TEST_KEY = 'sk-openai-test-0123456789abcdef';
export const AZURE_TEST_KEY = 'azure-test-key-0123456789abcdef';

/** A response the test wants next, instead of the default echo. */
export type Scripted =
  | { status: number; body: unknown; headers?: Record<string, string> }
  | { sse: SseEventOut[]; abortAfter?: number; delayMs?: number }
  | { raw: string; status?: number; contentType?: string };

export interface OpenAIMock {
  server: MockServer;
  url: string;
  /** Responses to give, in order, before falling back to the default behaviour. */
  script: Scripted[];
  close(): Promise<void>;
}

/**
 * Options for Azure sign-in: `azureKeys` are the `api-key`s accepted (default
 * AZURE_TEST_KEY); `azureBearer` accepts an Entra ID token (`Authorization: Bearer …`)
 * when it returns true. Without it a bearer token is refused as Azure refuses a bad one.
 */
export interface OpenAIMockOptions {
  azureKeys?: string[];
  azureBearer?: (token: string) => boolean;
}

export async function startOpenAIMock(options: OpenAIMockOptions = {}): Promise<OpenAIMock> {
  const script: Scripted[] = [];
  const server = await MockServer.start((req, res) => handle(req, res, script, options));
  return { server, url: server.url, script, close: () => server.close() };
}

async function handle(req: RecordedRequest, res: ServerResponse, script: Scripted[], options: OpenAIMockOptions = {}) {
  const azure = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(req.path);
  if (req.method !== 'POST' || (!azure && req.path !== '/v1/chat/completions')) {
    return azure
      ? sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } })
      : sendJson(res, 404, { error: { message: `Invalid URL (${req.method} ${req.path})`, type: 'invalid_request_error', param: null, code: null } });
  }
  if (azure) {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined && req.headers['api-key'] === undefined) {
      // Entra ID: Azure OpenAI's answer to a missing, invalid or expired token.
      if (!options.azureBearer?.(bearer)) {
        return sendJson(res, 401, {
          error: { code: '401', message: 'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.' },
        });
      }
    } else if (!(options.azureKeys ?? [AZURE_TEST_KEY]).includes(req.headers['api-key'])) {
      return sendJson(res, 401, {
        error: {
          code: '401',
          message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        },
      });
    }
    if (!req.query.get('api-version')) {
      return sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } });
    }
  } else if (req.headers.authorization !== `Bearer ${OPENAI_TEST_KEY}`) {
    const presented = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    return sendJson(res, 401, {
      error: {
        message: `Incorrect API key provided: ${presented.slice(0, 3)}***${presented.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
  }

  const next = script.shift();
  if (next) {
    if ('sse' in next) return sendSse(res, next.sse, next);
    if ('raw' in next) {
      res.writeHead(next.status ?? 200, { 'content-type': next.contentType ?? 'text/plain' });
      return res.end(next.raw);
    }
    return sendJson(res, next.status, next.body, next.headers);
  }

  const body = req.body;
  if (!body || typeof body !== 'object') {
    return sendJson(res, 400, {
      error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null },
    });
  }
  if (!Array.isArray(body.messages)) {
    return sendJson(res, 400, {
      error: { message: "Missing required parameter: 'messages'.", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' },
    });
  }
  const model = azure ? azure[1] : body.model;
  if (!azure && typeof model !== 'string') {
    return sendJson(res, 400, {
      error: { message: 'you must provide a model parameter', type: 'invalid_request_error', param: null, code: null },
    });
  }
  const refused = modelRule(body, String(model));
  if (refused) return sendJson(res, 400, { error: { type: 'invalid_request_error', ...refused } });
  const text = `echo: ${lastUserText(body.messages)}`;
  const id = `chatcmpl-mock${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = {
    prompt_tokens: 12,
    completion_tokens: 5,
    total_tokens: 17,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  if (!body.stream) return sendJson(res, 200, chatCompletionBody({ id, created, model, content: text, usage }));
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock', choices, ...extra });
  const withUsage = body.stream_options?.include_usage === true;
  const u = withUsage ? { usage: null } : {};
  const events: SseEventOut[] = [];
  if (azure) {
    events.push({
      data: JSON.stringify({
        choices: [],
        created: 0,
        id: '',
        model: '',
        object: '',
        prompt_filter_results: [{ prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: 'safe' } } }],
      }),
    });
  }
  events.push({ data: chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }], u) });
  for (const word of text.split(/(?<= )/)) {
    events.push({ data: chunk([{ index: 0, delta: { content: word }, logprobs: null, finish_reason: null }], u) });
  }
  events.push({ data: chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], u) });
  if (withUsage) events.push({ data: chunk([], { usage }) });
  events.push({ data: '[DONE]' });
  return sendSse(res, events);
}

// Per-model rules, with the API's messages: reasoning models (o-series, GPT-5 but its
// -chat snapshots) take max_completion_tokens, only the default temperature, no top_p,
// penalties or logprobs; o1-mini / o1-preview have no system role; every model has an
// output limit. Azure is matched by deployment name (deployments named after models).
const REASONING = /^(o\d|gpt-5(?!(\.\d+)?-chat))/;
const OUTPUT_LIMITS: [RegExp, number][] = [
  [/^gpt-5(\.\d+)?-chat/, 16384],
  [/^gpt-5/, 128000],
  [/^o1-mini/, 65536],
  [/^o1-preview/, 32768],
  [/^o\d/, 100000],
  [/^gpt-4\.1/, 32768],
  [/^gpt-4o-2024-05-13/, 4096],
  [/^gpt-4o/, 16384],
];

function modelRule(body: any, model: string): { message: string; param: string; code: string | null } | null {
  const unsupported = (param: string) => ({ message: `Unsupported parameter: '${param}' is not supported with this model.`, param, code: 'unsupported_parameter' });
  if (REASONING.test(model)) {
    if (body.max_tokens != null) {
      return { message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", param: 'max_tokens', code: 'unsupported_parameter' };
    }
    if (body.temperature != null && body.temperature !== 1) {
      return { message: `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`, param: 'temperature', code: 'unsupported_value' };
    }
    for (const param of ['top_p', 'frequency_penalty', 'presence_penalty', 'logprobs']) if (body[param] != null) return unsupported(param);
    if (/^o1-(mini|preview)/.test(model) && body.messages.some((m: any) => m?.role === 'system' || m?.role === 'developer')) {
      const i = body.messages.findIndex((m: any) => m?.role === 'system' || m?.role === 'developer');
      return { message: `Unsupported value: 'messages[${i}].role' does not support '${body.messages[i].role}' with this model.`, param: `messages[${i}].role`, code: 'unsupported_value' };
    }
  }
  const limit = OUTPUT_LIMITS.find(([re]) => re.test(model))?.[1];
  const asked = body.max_completion_tokens ?? body.max_tokens;
  if (limit !== undefined && typeof asked === 'number' && asked > limit) {
    const param = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
    return { message: `max_tokens is too large: ${asked}. This model supports at most ${limit} completion tokens, whereas you provided ${asked}.`, param, code: null };
  }
  return null;
}

function lastUserText(messages: any[]): string {
  const user = [...messages].reverse().find((m) => m?.role === 'user');
  if (!user) return '';
  if (typeof user.content === 'string') return user.content;
  return (user.content ?? []).filter((p: any) => p?.type === 'text').map((p: any) => p.text).join(' ');
}

/** A non-streamed chat completion as OpenAI returns it, one choice that stopped. */
export function chatCompletionBody({ id, created, model, content, usage }: { id: string; created: number; model: unknown; content: string; usage: object }) {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage,
    service_tier: 'default',
    system_fingerprint: 'fp_mock',
  };
}
