// Bundled by bench/translation.ts with esbuild; not run by Node directly.
import { SSE_DONE, sseData } from '../../src/openai/sse';
import { parseChatRequest } from '../../src/openai/parse-chat-request';
import { createAnthropicStreamTranslator } from '../../src/providers/anthropic/anthropic-stream';
import { fromAnthropicMessages } from '../../src/providers/anthropic/from-anthropic-response';
import { serializeAnthropicRequest } from '../../src/providers/anthropic/serialize-anthropic-request';
import { SDK_API_VERSION, toAnthropicRequest } from '../../src/providers/anthropic/to-anthropic-request';
import { upstreamModel } from '../models.ts';

const MODEL = upstreamModel('anthropic');
const encoder = new TextEncoder();

/** Client body → the Messages API body, serialised as the provider hands it to the SDK. */
export function request(text: string, maxImageBytes: number): string {
  const translated = toAnthropicRequest(parseChatRequest(text), { model: MODEL, apiVersion: SDK_API_VERSION, maxImageBytes });
  return serializeAnthropicRequest({ ...translated.params, stream: translated.stream });
}

/** Upstream JSON → the OpenAI completion the client receives. */
export function response(text: string): string {
  return JSON.stringify(fromAnthropicMessages([JSON.parse(text)]));
}

/** Each upstream event's `data` → OpenAI SSE bytes, as openAIChunkStream emits them; returns the byte count. */
export function stream(datas: string[]): number {
  const translator = createAnthropicStreamTranslator({ n: 1, includeUsage: false, model: MODEL });
  let bytes = 0;
  for (const data of datas) {
    let out = '';
    for (const chunk of translator.onEvent({ choice: 0, event: JSON.parse(data) })) out += sseData(chunk);
    if (out) bytes += encoder.encode(out).length;
  }
  let out = '';
  for (const chunk of translator.onEnd()) out += sseData(chunk);
  return bytes + encoder.encode(out + SSE_DONE).length;
}
