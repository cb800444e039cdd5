import type { FinishReason } from '../../openai/types';

// Gemini finishReason → OpenAI finish_reason.
//   STOP → stop (tool_calls when the candidate called a function)
//   MAX_TOKENS → length
//   SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY,
//   IMAGE_PROHIBITED_CONTENT, IMAGE_RECITATION → content_filter
//   anything else (LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL,
//   FINISH_REASON_UNSPECIFIED, reasons added later) → stop, or tool_calls after a call

const CONTENT_FILTER = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** null while the candidate is still being generated (no finishReason yet). */
export function toFinishReason(reason: string | undefined, calledFunction: boolean): FinishReason | null {
  if (!reason) return null;
  if (reason === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER.has(reason)) return 'content_filter';
  return calledFunction ? 'tool_calls' : 'stop';
}
