import { hasApiKey } from '../../credentials/secrets';
import { GatewayError } from '../../openai/errors';
import { clientAskedForUsage, openAIChunkStream, readFirstEvent, streamEndReport } from '../../openai/chunk-stream';
import type { Provider, ProviderCall, ProviderResult } from '../provider';
import { upstreamNetworkError } from '../upstream-error';
import { geminiClient } from './client';
import { fromGeminiResponse } from './from-gemini-response';
import { geminiEvents, GeminiStreamTranslator, streamEventFailure } from './gemini-stream';
import { resolveImages } from './resolve-images';
import { serializeGeminiRequest } from './serialize';
import { toGeminiRequest } from './to-gemini-request';
import type { GenerateContentResponse } from './types';

/**
 * Google Gemini (generativelanguage.googleapis.com, API key): OpenAI chat
 * completions translated to generateContent / streamGenerateContent and back.
 * The IO (image fetches, the upstream call) is here; the translation is pure.
 */
export const geminiProvider: Provider = {
  isConfigured: (env, options) => hasApiKey(env, options, 'GEMINI_API_KEY'),

  async chatCompletion(call: ProviderCall): Promise<ProviderResult> {
    const { request, target, env, notes } = call;
    const client = geminiClient(env, target.options);
    const images = await resolveImages(request.messages, { maxBytes: call.maxImageBytes, signal: call.signal });
    const body = serializeGeminiRequest(toGeminiRequest(request, target, images, notes), images.values());
    const stream = request.stream === true;

    // Our own controller, so that a failed or cancelled stream also stops the upstream.
    const upstream = new AbortController();
    const abort = () => upstream.abort();
    if (call.signal.aborted) abort();
    else call.signal.addEventListener('abort', abort, { once: true });

    const response = await client.generateContent(target.model, body, stream, upstream.signal);
    if (!stream) {
      let json: GenerateContentResponse;
      try {
        json = await response.json();
      } catch (error) {
        throw error instanceof SyntaxError
          ? new GatewayError(502, 'Gemini answered with something that is not JSON.', 'upstream_error', null, 'upstream_bad_response')
          : upstreamNetworkError('Gemini', error);
      }
      return { stream: false, body: fromGeminiResponse(json, target.model) };
    }

    if (!response.body) throw upstreamNetworkError('Gemini', new Error('no response body'));
    // Wait for the first event before answering: a prompt Gemini blocks, or an error
    // it reports before any output, then gets a proper HTTP status instead of a 200
    // stream that fails at once. The client would wait for that event anyway.
    let first: IteratorResult<GenerateContentResponse>;
    let events: AsyncIterator<GenerateContentResponse>;
    try {
      ({ first, events } = await readFirstEvent(geminiEvents(response.body)));
    } catch (error) {
      abort();
      throw error instanceof GatewayError ? error : upstreamNetworkError('Gemini', error);
    }
    if (first.done) throw new GatewayError(502, 'Gemini ended the stream without sending anything.', 'upstream_error', null, 'upstream_stream_truncated');
    const failure = streamEventFailure(first.value, [client.apiKey]);
    if (failure) {
      abort();
      throw failure;
    }

    const translator = new GeminiStreamTranslator(target.model, clientAskedForUsage(request), [client.apiKey]);
    const { ended, onEnd } = streamEndReport();
    return {
      stream: true,
      started: true,
      ended,
      body: openAIChunkStream(events, translator, (error) => upstreamNetworkError('Gemini', error), abort, {
        idle: { ms: call.streamIdleTimeoutMs, provider: 'Gemini' },
        onEnd,
        clientSignal: call.signal,
      }),
    };
  },
};
