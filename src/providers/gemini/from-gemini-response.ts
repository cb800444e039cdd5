import { newCompletionMeta, type CompletionMeta } from '../../openai/chunks';
import { GatewayError } from '../../openai/errors';
import type { ChatCompletion, Choice, ToolCall } from '../../openai/types';
import { toFinishReason } from './finish-reason';
import { toLogprobs } from './logprobs';
import type { GeminiPart, GenerateContentResponse } from './types';
import { toUsage } from './usage';

// A Gemini GenerateContentResponse → an OpenAI chat.completion.
//   candidates → choices (index kept); text parts → content, thought summaries
//   (thought: true) → reasoning_content, never content; functionCall parts → tool_calls with ids derived from
//   the response id, the candidate and the call's position, so one response always
//   gets the same ids; a call's thought signature rides along in
//   tool_calls[].extra_content.google.thought_signature (where Google's own
//   OpenAI-compatible endpoint puts it), so clients that send the assistant message
//   back unchanged keep Gemini 3 tool use working.
//   A prompt Gemini blocked (promptFeedback.blockReason, no candidates) is a 400
//   with code content_filter, as Azure OpenAI reports a filtered prompt.

export type GeminiToolCall = ToolCall & { extra_content?: { google: { thought_signature: string } } };

export interface CandidateOutput {
  text: string;
  /** Thought summaries (parts with thought: true), returned as reasoning_content. */
  reasoning: string;
  toolCalls: GeminiToolCall[];
}

/** The prefix of this response's tool-call ids: Gemini's responseId, else the completion id. */
export const toolCallIdBase = (response: GenerateContentResponse, meta: CompletionMeta) =>
  `call_${response.responseId ?? meta.id.replace(/^chatcmpl-/, '')}`;

/**
 * The answer in one candidate's parts. `firstCall` numbers the calls on from those
 * already seen (a stream delivers them across several events).
 */
export function readParts(parts: GeminiPart[] | undefined, idBase: string, candidate: number, firstCall = 0): CandidateOutput {
  let text = '';
  let reasoning = '';
  const toolCalls: GeminiToolCall[] = [];
  for (const part of parts ?? []) {
    if (part.thought === true) {
      if (typeof part.text === 'string') reasoning += part.text;
      continue;
    }
    if (typeof part.text === 'string') text += part.text;
    if (part.functionCall) {
      const call: GeminiToolCall = {
        id: `${idBase}_${candidate}_${firstCall + toolCalls.length}`,
        type: 'function',
        function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
      };
      if (part.thoughtSignature) call.extra_content = { google: { thought_signature: part.thoughtSignature } };
      toolCalls.push(call);
    }
  }
  return { text, reasoning, toolCalls };
}

export function promptBlocked(feedback: NonNullable<GenerateContentResponse['promptFeedback']>): GatewayError {
  const detail = feedback.blockReasonMessage ? `: ${feedback.blockReasonMessage}` : '';
  return new GatewayError(
    400,
    `Gemini blocked the prompt (${feedback.blockReason}${detail}) and generated nothing. Change the content that triggered it; retrying the same prompt will not help.`,
    'invalid_request_error',
    'messages',
    'content_filter',
  );
}

export function fromGeminiResponse(response: GenerateContentResponse, fallbackModel: string): ChatCompletion {
  const candidates = response.candidates ?? [];
  if (candidates.length === 0) {
    if (response.promptFeedback?.blockReason) throw promptBlocked(response.promptFeedback);
    throw new GatewayError(502, 'Gemini returned no candidates and gave no reason.', 'upstream_error', null, 'upstream_empty_response');
  }
  const meta = newCompletionMeta(response.modelVersion ?? fallbackModel, response.responseId);
  const idBase = toolCallIdBase(response, meta);
  const choices: Choice[] = candidates.map((candidate, position) => {
    const index = candidate.index ?? position;
    const { text, reasoning, toolCalls } = readParts(candidate.content?.parts, idBase, index);
    const finish = toFinishReason(candidate.finishReason, toolCalls.length > 0) ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
    const choice: Choice = {
      index,
      message: { role: 'assistant', content: text || (toolCalls.length > 0 || finish === 'content_filter' ? null : ''), refusal: null },
      finish_reason: finish,
      logprobs: toLogprobs(candidate.logprobsResult),
    };
    if (toolCalls.length > 0) choice.message.tool_calls = toolCalls;
    if (reasoning) choice.message.reasoning_content = reasoning;
    return choice;
  });
  choices.sort((a, b) => a.index - b.index);
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices,
    usage: toUsage(response.usageMetadata),
  };
}
