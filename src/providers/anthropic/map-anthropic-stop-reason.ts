import type { FinishReason } from '../../openai/types';

/**
 * Claude's `stop_reason` as OpenAI's `finish_reason`. `pause_turn` (a server tool's
 * long turn paused) ends this response normally; `refusal` is Claude declining on
 * policy grounds, which OpenAI calls `content_filter`. A reason added to the API
 * later maps to `stop` rather than breaking the response.
 */
export function mapAnthropicStopReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn, and anything newer
      return 'stop';
  }
}
