import type { StreamTranslator } from '../../openai/chunk-stream';
import { chunk, errorChunk, newCompletionMeta, type CompletionMeta } from '../../openai/chunks';
import { GatewayError } from '../../openai/errors';
import { parseSse } from '../../openai/sse';
import { SseEventSource } from '../../openai/sse-event-source';
import type { ChatCompletionChunk, ChunkDelta, Usage } from '../../openai/types';
import { toFinishReason } from './finish-reason';
import { promptBlocked, readParts, toolCallIdBase, type GeminiToolCall } from './from-gemini-response';
import { googleApiError } from './gemini-error';
import { toLogprobs } from './logprobs';
import type { GenerateContentResponse, GeminiUsageMetadata } from './types';
import { toUsage } from './usage';

// Gemini's `streamGenerateContent?alt=sse` → OpenAI chunks. Each SSE event is a
// whole GenerateContentResponse holding the next slice of each candidate (text
// pieces, complete function calls) and the usage so far; the last one for a
// candidate carries its finishReason. Per event and candidate: a delta with the
// new text and calls (the first one also says role: assistant), then a
// finish_reason chunk when the candidate finishes; after the stream, the usage
// chunk if the client asked for stream_options.include_usage.

/** The upstream events, parsed. A line that is not JSON ends the stream with an error. */
export function geminiEvents(body: ReadableStream<Uint8Array>): SseEventSource<GenerateContentResponse> {
  // An SseEventSource: openAIChunkStream drains it without a promise per event (openai/sse-event-source.ts).
  return new SseEventSource(parseSse(body), (event) => {
    try {
      return JSON.parse(event.data) as GenerateContentResponse;
    } catch {
      throw new GatewayError(502, 'Gemini sent a stream event that is not JSON.', 'upstream_error', null, 'upstream_bad_response');
    }
  });
}

/**
 * The failure an event stands for, if any: an error object, or a prompt Gemini
 * refused before generating anything. Checked on the first event before the
 * response starts, so such a stream is answered with an HTTP error, not a 200.
 */
export function streamEventFailure(event: GenerateContentResponse, secrets: (string | undefined)[]): GatewayError | null {
  if (event.error) return googleApiError(typeof event.error.code === 'number' ? event.error.code : 500, event.error, secrets);
  if (!event.candidates?.length && event.promptFeedback?.blockReason) return promptBlocked(event.promptFeedback);
  return null;
}

interface CandidateState {
  calls: number;
  finished: boolean;
}

export class GeminiStreamTranslator implements StreamTranslator<GenerateContentResponse> {
  private meta?: CompletionMeta;
  private idBase = '';
  private readonly candidates = new Map<number, CandidateState>();
  private usageMetadata?: GeminiUsageMetadata;

  constructor(
    private readonly fallbackModel: string,
    private readonly includeUsage: boolean,
    private readonly secrets: (string | undefined)[] = [],
  ) {}

  onEvent(event: GenerateContentResponse): ChatCompletionChunk[] {
    const failure = streamEventFailure(event, this.secrets);
    if (failure) throw failure;
    if (!this.meta) {
      this.meta = newCompletionMeta(event.modelVersion ?? this.fallbackModel, event.responseId);
      this.idBase = toolCallIdBase(event, this.meta);
    }
    const meta = this.meta;
    if (event.usageMetadata) this.usageMetadata = event.usageMetadata;

    const out: ChatCompletionChunk[] = [];
    (event.candidates ?? []).forEach((candidate, position) => {
      const index = candidate.index ?? position;
      let state = this.candidates.get(index);
      const first = !state;
      if (!state) this.candidates.set(index, (state = { calls: 0, finished: false }));

      const { text, reasoning, toolCalls } = readParts(candidate.content?.parts, this.idBase, index, state.calls);
      state.calls += toolCalls.length;
      const logprobs = toLogprobs(candidate.logprobsResult);
      if (first || text || reasoning || toolCalls.length > 0 || logprobs) {
        const delta: ChunkDelta = first ? { role: 'assistant', content: text || (toolCalls.length > 0 ? null : '') } : {};
        if (text && !first) delta.content = text;
        if (reasoning) delta.reasoning_content = reasoning;
        if (toolCalls.length > 0) delta.tool_calls = toolCalls.map((call, k) => toolCallDelta(call, state.calls - toolCalls.length + k));
        out.push(chunk(meta, [{ index, delta, finish_reason: null, logprobs }]));
      }
      if (candidate.finishReason && !state.finished) {
        state.finished = true;
        out.push(chunk(meta, [{ index, delta: {}, finish_reason: toFinishReason(candidate.finishReason, state.calls > 0) }]));
      }
    });
    return out;
  }

  onEnd(): ChatCompletionChunk[] {
    // Gemini ends every candidate with a finishReason; a stream that stops before is cut off.
    if (!this.meta || this.candidates.size === 0 || [...this.candidates.values()].some((c) => !c.finished)) {
      throw new GatewayError(502, 'Gemini ended the stream before it finished.', 'upstream_error', null, 'upstream_stream_truncated');
    }
    return this.includeUsage ? [chunk(this.meta, [], toUsage(this.usageMetadata))] : [];
  }

  errorChunk(error: GatewayError): ChatCompletionChunk {
    return errorChunk(this.meta ?? newCompletionMeta(this.fallbackModel), error);
  }

  usage(): Usage | null {
    return this.usageMetadata ? toUsage(this.usageMetadata) : null;
  }
}

/** A whole function call in one delta: Gemini never splits one across events. */
function toolCallDelta(call: GeminiToolCall, index: number) {
  return { index, ...call };
}
