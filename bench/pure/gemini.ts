// Bundled by bench/translation.ts with esbuild; not run by Node directly.
import { SSE_DONE, sseData } from '../../src/openai/sse';
import { parseChatRequest } from '../../src/openai/parse-chat-request';
import { serializeRequest } from '../../src/providers/openai';
import { fromGeminiResponse } from '../../src/providers/gemini/from-gemini-response';
import { GeminiStreamTranslator } from '../../src/providers/gemini/gemini-stream';
import { resolveImages } from '../../src/providers/gemini/resolve-images';
import { toGeminiRequest } from '../../src/providers/gemini/to-gemini-request';
import { catalogFor } from '../../src/routing/catalog';
import { BENCH_MODELS, upstreamModel } from '../models.ts';

const encoder = new TextEncoder();

/** Client body → the generateContent body (data: URL images need no fetch, so resolveImages does no I/O). */
export async function request(text: string, maxImageBytes: number): Promise<string> {
  const parsed = parseChatRequest(text);
  const target = catalogFor(undefined).resolve(BENCH_MODELS.gemini)!;
  const images = await resolveImages(parsed.messages, { maxBytes: maxImageBytes, signal: new AbortController().signal });
  return serializeRequest(toGeminiRequest(parsed, target, images, { dropped: [], adapted: [] }));
}

export function response(text: string): string {
  return JSON.stringify(fromGeminiResponse(JSON.parse(text), upstreamModel('gemini')));
}

export function stream(datas: string[]): number {
  const translator = new GeminiStreamTranslator(upstreamModel('gemini'), false);
  let bytes = 0;
  for (const data of datas) {
    let out = '';
    for (const chunk of translator.onEvent(JSON.parse(data))) out += sseData(chunk);
    if (out) bytes += encoder.encode(out).length;
  }
  let out = '';
  for (const chunk of translator.onEnd()) out += sseData(chunk);
  return bytes + encoder.encode(out + SSE_DONE).length;
}
