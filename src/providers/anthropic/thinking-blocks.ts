import type { RedactedThinkingBlockParam, ThinkingBlockParam } from '@anthropic-ai/sdk/resources/messages/messages';
import { badRequest } from '../../openai/errors';
import type { ToolCall } from '../../openai/types';

// Claude's thinking blocks, round-tripped through OpenAI's format. When Claude thinks
// and calls tools, the next request must carry the thinking blocks of that assistant
// turn back, unchanged and with their signatures ("a final `assistant` message must
// start with a thinking block"), and OpenAI's messages have no field for them. So
// they ride on the tool calls, in `tool_calls[].extra_content.anthropic.thinking_blocks`
// (as Gemini's thought signatures ride in `extra_content.google`): each call carries
// the blocks that came before it since the previous call. The `openai` SDK sends
// them back unchanged with the assistant message. Redacted thinking travels the same
// way (its encrypted `data`) and is never shown as text.

export type ThinkingBlock = ThinkingBlockParam | RedactedThinkingBlockParam;
export type ToolCallWithThinking = ToolCall & { extra_content?: { anthropic: { thinking_blocks: ThinkingBlock[] } } };

/** The extra_content carrying `blocks`, or nothing when there are none. */
export function thinkingExtraContent(blocks: ThinkingBlock[]): Pick<ToolCallWithThinking, 'extra_content'> {
  return blocks.length > 0 ? { extra_content: { anthropic: { thinking_blocks: blocks } } } : {};
}

/** A thinking or redacted_thinking content block as it is sent back (only its own fields). */
export function asThinkingBlock(block: { type: string }): ThinkingBlock | null {
  const b = block as { type: string; thinking?: unknown; signature?: unknown; data?: unknown };
  if (b.type === 'thinking' && typeof b.thinking === 'string' && typeof b.signature === 'string') {
    return { type: 'thinking', thinking: b.thinking, signature: b.signature };
  }
  if (b.type === 'redacted_thinking' && typeof b.data === 'string') return { type: 'redacted_thinking', data: b.data };
  return null;
}

/** The thinking blocks a client sent back on a tool call; a malformed one is a 400 naming it. */
export function thinkingBlocksOf(call: ToolCall, param: string): ThinkingBlock[] {
  const extra = (call as { extra_content?: unknown }).extra_content;
  if (extra == null || typeof extra !== 'object') return [];
  const anthropic = (extra as { anthropic?: unknown }).anthropic;
  if (anthropic == null || typeof anthropic !== 'object') return [];
  const blocks = (anthropic as { thinking_blocks?: unknown }).thinking_blocks;
  if (blocks == null) return [];
  const at = `${param}.extra_content.anthropic.thinking_blocks`;
  if (!Array.isArray(blocks)) throw badRequest(`${at} must be the list the gateway returned with this tool call.`, at, 'invalid_value');
  return blocks.map((block, i) => {
    const parsed = block !== null && typeof block === 'object' ? asThinkingBlock(block as { type: string }) : null;
    if (!parsed) {
      throw badRequest(
        `${at}[${i}] must be a thinking block ({type: "thinking", thinking, signature}) or a redacted_thinking block ({type: "redacted_thinking", data}), sent back as the gateway returned it.`,
        `${at}[${i}]`,
        'invalid_value',
      );
    }
    return parsed;
  });
}
