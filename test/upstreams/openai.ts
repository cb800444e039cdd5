import type { ServerResponse } from 'node:http';
import { MockServer, sendJson, sendSse, type RecordedRequest, type SseEventOut } from './mock-server';

// A faithful stand-in for OpenAI's and Azure OpenAI's chat-completions endpoints:
//   OpenAI  POST /v1/chat/completions                      Authorization: Bearer <key>
//   Azure   POST /openai/deployments/{d}/chat/completions?api-version=…   api-key: <key>
// Error bodies, SSE framing (`data: {json}\n\n` … `data: [DONE]\n\n`, no `event:` lines),
// the usage chunk of `stream_options.include_usage` (empty `choices`) and Azure's
// opening `prompt_filter_results` chunk follow the live APIs and ../shared/fixtures.

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

export async function startOpenAIMock(): Promise<OpenAIMock> {
  const script: Scripted[] = [];
  const server = await MockServer.start((req, res) => handle(req, res, script));
  return { server, url: server.url, script, close: () => server.close() };
}

async function handle(req: RecordedRequest, res: ServerResponse, script: Scripted[]) {
  const azure = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(req.path);
  if (req.method !== 'POST' || (!azure && req.path !== '/v1/chat/completions')) {
    return azure
      ? sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } })
      : sendJson(res, 404, { error: { message: `Invalid URL (${req.method} ${req.path})`, type: 'invalid_request_error', param: null, code: null } });
  }
  if (azure) {
    if (req.headers['api-key'] !== AZURE_TEST_KEY) {
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
  if (!body.stream) {
    return sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
      usage,
      service_tier: 'default',
      system_fingerprint: 'fp_mock',
    });
  }
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

function lastUserText(messages: any[]): string {
  const user = [...messages].reverse().find((m) => m?.role === 'user');
  if (!user) return '';
  if (typeof user.content === 'string') return user.content;
  return (user.content ?? []).filter((p: any) => p?.type === 'text').map((p: any) => p.text).join(' ');
}
