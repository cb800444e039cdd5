import type { ServerResponse } from 'node:http';
import { MockServer, sendJson, type RecordedRequest } from './mock-server';
import { chatCompletionBody } from './openai';

// OpenAI's chat-completions wire format (as test/upstreams/openai.ts: the same chunk
// shapes, `usage: null` on every chunk and a closing usage chunk with empty `choices`
// when stream_options.include_usage is set, the same 500 body) with streams a test
// controls, for the key-limit and usage tests. The last user message picks the behaviour:
//   "hold"  a stream that sends its first chunk and waits for release() (or the client leaving)
//   "die"   a stream whose connection drops after its first chunk
//   "fail"  a 500 with OpenAI's server_error body
//   else    an immediate answer (JSON or stream)
// Every answer uses USAGE.

export const USAGE = {
  prompt_tokens: 12,
  completion_tokens: 5,
  total_tokens: 17,
  prompt_tokens_details: { cached_tokens: 2, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

export interface HeldOpenAIMock {
  server: MockServer;
  url: string;
  /** Streams waiting for release. */
  readonly held: number;
  /** Lets every held stream finish. */
  release(): void;
  close(): Promise<void>;
}

export async function startHeldOpenAIMock(): Promise<HeldOpenAIMock> {
  const waiting: (() => void)[] = [];
  const server = await MockServer.start((req, res) => handle(req, res, waiting));
  return {
    server,
    url: server.url,
    get held() {
      return waiting.length;
    },
    release: () => waiting.splice(0).forEach((go) => go()),
    close: () => server.close(),
  };
}

const lastUser = (body: any): string => {
  const m = [...(body?.messages ?? [])].reverse().find((x: any) => x.role === 'user');
  return typeof m?.content === 'string' ? m.content : '';
};

async function handle(req: RecordedRequest, res: ServerResponse, waiting: (() => void)[]) {
  const body = req.body;
  const mode = lastUser(body);
  if (mode === 'fail') {
    return sendJson(res, 500, { error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } });
  }
  const id = 'chatcmpl-held';
  const created = Math.floor(Date.now() / 1000);
  const model = body.model;
  if (!body.stream) return sendJson(res, 200, chatCompletionBody({ id, created, model, content: 'ok', usage: USAGE }));
  const withUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = withUsage ? { usage: null } : {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock', choices, ...extra })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]));
  if (mode === 'die') {
    await new Promise<void>((resolve) => res.write('', () => setTimeout(resolve, 20)));
    res.destroy();
    return;
  }
  if (mode === 'hold') {
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      res.on('close', resolve);
    });
    if (res.destroyed) return;
  }
  res.write(chunk([{ index: 0, delta: { content: 'ok' }, logprobs: null, finish_reason: null }]));
  res.write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
  if (withUsage) res.write(chunk([], { usage: USAGE }));
  res.end('data: [DONE]\n\n');
}
