import type { ChatCompletionRequest } from '../../openai/types';
import type { RequestNotes } from '../provider';
import { toGeminiSchema } from './json-schema';
import type { GeminiGenerationConfig } from './types';

// OpenAI sampling and output parameters → Gemini `generationConfig`.
//   temperature → temperature            top_p → topP           top_k → topK
//   max_completion_tokens / max_tokens → maxOutputTokens (the first wins)
//   stop → stopSequences                 n → candidateCount     seed → seed
//   presence_penalty / frequency_penalty → presencePenalty / frequencyPenalty
//   response_format json_object → responseMimeType application/json
//   response_format json_schema → the same plus responseSchema (converted, json-schema.ts)
//   logprobs → responseLogprobs          top_logprobs → logprobs

export function toGenerationConfig(request: ChatCompletionRequest, notes: RequestNotes): GeminiGenerationConfig | undefined {
  const config: GeminiGenerationConfig = {};
  if (request.temperature != null) config.temperature = request.temperature;
  if (request.top_p != null) config.topP = request.top_p;
  if (typeof request.top_k === 'number') config.topK = request.top_k;
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens != null) config.maxOutputTokens = maxTokens;
  if (request.stop != null) {
    const stops = (typeof request.stop === 'string' ? [request.stop] : request.stop).filter((s) => s !== '');
    if (stops.length > 0) config.stopSequences = stops;
  }
  if (request.n != null) config.candidateCount = request.n;
  if (request.seed != null) config.seed = request.seed;
  if (request.presence_penalty != null) config.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) config.frequencyPenalty = request.frequency_penalty;

  const format = request.response_format;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    const schema = format.json_schema.schema;
    if (schema) config.responseSchema = toGeminiSchema(schema, 'response_format.json_schema.schema', notes);
    // Gemini's structured output is always constrained to the schema; there is no non-strict mode to select.
  }

  if (request.logprobs === true) {
    config.responseLogprobs = true;
    if (request.top_logprobs != null) config.logprobs = request.top_logprobs;
  } else if (request.top_logprobs != null) {
    notes.dropped.push('top_logprobs'); // OpenAI too ignores it without logprobs: true
  }
  return Object.keys(config).length > 0 ? config : undefined;
}
