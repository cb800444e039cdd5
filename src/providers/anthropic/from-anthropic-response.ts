import type { Message, MessageDeltaUsage, Usage as AnthropicUsage } from '@anthropic-ai/sdk/resources/messages/messages';
import { newCompletionMeta } from '../../openai/chunks';
import type { ChatCompletion, Choice, Usage } from '../../openai/types';
import { mapAnthropicStopReason } from './map-anthropic-stop-reason';
import { asThinkingBlock, thinkingExtraContent, type ThinkingBlock, type ToolCallWithThinking } from './thinking-blocks';

// Claude `message` objects → one OpenAI chat completion (pure). One message per
// choice: `n` > 1 is served by n calls, merged here with their usage summed.
// `model` is the model Anthropic reports having used (as OpenAI reports the dated
// snapshot that served an alias), the same in streamed chunks.
// Thinking text is `reasoning_content`, never `content`; the thinking blocks
// themselves (with their signatures, and redacted ones) ride on the tool call that
// follows them, for the next request (thinking-blocks.ts).

/** Token counts as Anthropic reports them; any of the optional ones may be absent or null. */
export type AnthropicTokenCounts = Pick<AnthropicUsage, 'input_tokens' | 'output_tokens'> &
  Partial<Pick<AnthropicUsage, 'cache_read_input_tokens' | 'cache_creation_input_tokens' | 'output_tokens_details'>>;

export function fromAnthropicMessages(messages: Message[], created?: number): ChatCompletion {
  const first = messages[0];
  const meta = newCompletionMeta(first.model, first.id);
  return {
    id: meta.id,
    object: 'chat.completion',
    created: created ?? meta.created,
    model: meta.model,
    choices: messages.map((m, index) => fromAnthropicMessage(m, index)),
    usage: messages.map((m) => toOpenAIUsage(m.usage)).reduce(sumUsage),
  };
}

export function fromAnthropicMessage(message: Message, index: number): Choice {
  let text = '';
  let reasoning = '';
  let thinking: ThinkingBlock[] = [];
  const toolCalls: ToolCallWithThinking[] = [];
  for (const block of message.content) {
    if (block.type === 'text') text += block.text;
    else if (block.type === 'thinking' || block.type === 'redacted_thinking') {
      if (block.type === 'thinking') reasoning += block.thinking;
      const kept = asThinkingBlock(block);
      if (kept) thinking.push(kept);
    } else if (block.type === 'tool_use') {
      toolCalls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
        ...thinkingExtraContent(thinking),
      });
      thinking = [];
    }
    // Server-tool blocks have no place in an OpenAI message.
  }
  const choice: Choice = {
    index,
    message: {
      role: 'assistant',
      content: text === '' && toolCalls.length > 0 ? null : text,
      refusal: message.stop_reason === 'refusal' ? (message.stop_details?.explanation ?? null) : null,
    },
    finish_reason: mapAnthropicStopReason(message.stop_reason),
    logprobs: null,
  };
  if (reasoning) choice.message.reasoning_content = reasoning;
  if (toolCalls.length > 0) choice.message.tool_calls = toolCalls;
  return choice;
}

/**
 * OpenAI counts every input token in `prompt_tokens`; Anthropic splits out the ones
 * read from and written to its prompt cache, so they are added back, and the cache
 * reads are OpenAI's `cached_tokens`.
 */
export function toOpenAIUsage(u: AnthropicTokenCounts): Usage {
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const prompt = u.input_tokens + cacheRead + (u.cache_creation_input_tokens ?? 0);
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: u.output_tokens,
    total_tokens: prompt + u.output_tokens,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
  const thinking = u.output_tokens_details?.thinking_tokens;
  if (typeof thinking === 'number') usage.completion_tokens_details = { reasoning_tokens: thinking };
  return usage;
}

/** A stream's running token counts: `message_start` has the input, each `message_delta` cumulative totals. */
export function mergeDeltaUsage(counts: AnthropicTokenCounts, delta: Partial<MessageDeltaUsage>): AnthropicTokenCounts {
  return {
    input_tokens: delta.input_tokens ?? counts.input_tokens,
    output_tokens: delta.output_tokens ?? counts.output_tokens,
    cache_read_input_tokens: delta.cache_read_input_tokens ?? counts.cache_read_input_tokens,
    cache_creation_input_tokens: delta.cache_creation_input_tokens ?? counts.cache_creation_input_tokens,
    output_tokens_details: delta.output_tokens_details ?? counts.output_tokens_details,
  };
}

export function sumUsage(a: Usage, b: Usage): Usage {
  const sum: Usage = {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
    prompt_tokens_details: {
      cached_tokens: (a.prompt_tokens_details?.cached_tokens ?? 0) + (b.prompt_tokens_details?.cached_tokens ?? 0),
    },
  };
  const reasoning = [a, b].map((u) => u.completion_tokens_details?.reasoning_tokens);
  if (reasoning.some((r) => r !== undefined)) {
    sum.completion_tokens_details = { reasoning_tokens: (reasoning[0] ?? 0) + (reasoning[1] ?? 0) };
  }
  return sum;
}
