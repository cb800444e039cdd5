import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages/messages';
import type { StreamTranslator } from '../../openai/chunk-stream';
import { chunk, errorChunk, newCompletionMeta, type CompletionMeta } from '../../openai/chunks';
import { GatewayError } from '../../openai/errors';
import type { ChatCompletionChunk, ChunkDelta, FinishReason } from '../../openai/types';
import { mergeDeltaUsage, sumUsage, toOpenAIUsage, type AnthropicTokenCounts } from './from-anthropic-response';
import { mapAnthropicStopReason } from './map-anthropic-stop-reason';
import { thinkingExtraContent, type ThinkingBlock } from './thinking-blocks';

// Claude stream events → OpenAI chunks (pure). One Claude stream per choice; with
// `n` > 1 the n streams' events arrive interleaved, tagged with their choice.
//
//   message_start                 → a role chunk
//   content_block_start text      → (its text, if any)
//   content_block_delta text      → a content chunk
//   content_block_start tool_use  → a tool-call chunk with id, type, name and arguments ''
//   content_block_delta json      → a tool-call chunk with the next arguments fragment
//   content_block_stop tool_use   → '{}' if no arguments came (as in non-streamed responses)
//   message_delta                 → the finish_reason chunk; usage
//   message_stop                  → the usage chunk (choices []) once every choice has stopped,
//                                   if the client asked for stream_options.include_usage
//                                   (usage() reports it either way, for usage accounting)
//   content_block_delta thinking  → a reasoning_content chunk (never content)
//   signature_delta, redacted_thinking → nothing shown; the finished thinking blocks
//                                   ride on the next tool call's first chunk
//                                   (extra_content.anthropic.thinking_blocks)
//   ping, other blocks            → nothing
//
// OpenAI numbers tool calls (0, 1, …) where Claude numbers content blocks, text
// included, so each choice keeps its own tool-call counter.

export interface TaggedEvent {
  /** The choice (0 … n-1) whose upstream call sent the event. */
  choice: number;
  event: RawMessageStreamEvent;
}

export interface AnthropicStreamOptions {
  n: number;
  includeUsage: boolean;
  /** Used for the chunk model until `message_start` names the model, i.e. only by an error before it. */
  model: string;
  /** Fixed `created`, for tests. */
  created?: number;
}

type Block =
  | { kind: 'text' }
  | { kind: 'tool'; toolIndex: number; argumentChars: number; input: unknown }
  | { kind: 'thinking'; thinking: string; signature: string }
  | { kind: 'other' };

interface ChoiceState {
  blocks: Map<number, Block>;
  /** Thinking blocks finished since the last tool call, for the next one. */
  thinking: ThinkingBlock[];
  nextToolIndex: number;
  usage?: AnthropicTokenCounts;
  stopped: boolean;
}

export function createAnthropicStreamTranslator(options: AnthropicStreamOptions): StreamTranslator<TaggedEvent> {
  const choices: ChoiceState[] = Array.from({ length: options.n }, () => ({ blocks: new Map(), thinking: [], nextToolIndex: 0, stopped: false }));
  let meta: CompletionMeta | undefined;
  let stoppedCount = 0;

  const metaFor = (id?: string, model?: string): CompletionMeta => {
    if (!meta) {
      meta = newCompletionMeta(model ?? options.model, id);
      if (options.created !== undefined) meta.created = options.created;
    }
    return meta;
  };
  const one = (index: number, delta: ChunkDelta, finishReason: FinishReason | null = null): ChatCompletionChunk[] => [
    chunk(metaFor(), [{ index, delta, logprobs: null, finish_reason: finishReason }]),
  ];

  /** Every choice's usage so far, summed (a choice not started yet counts 0). */
  const totalUsage = () => choices.map((c) => toOpenAIUsage(c.usage ?? { input_tokens: 0, output_tokens: 0 })).reduce(sumUsage);

  return {
    onEvent({ choice: index, event }) {
      const state = choices[index];
      switch (event.type) {
        case 'message_start': {
          metaFor(event.message.id, event.message.model);
          state.usage = event.message.usage;
          return one(index, { role: 'assistant', content: '' });
        }
        case 'content_block_start': {
          const block = event.content_block;
          if (block.type === 'text') {
            state.blocks.set(event.index, { kind: 'text' });
            return block.text ? one(index, { content: block.text }) : [];
          }
          if (block.type === 'tool_use') {
            const toolIndex = state.nextToolIndex++;
            state.blocks.set(event.index, { kind: 'tool', toolIndex, argumentChars: 0, input: block.input });
            const call = { index: toolIndex, id: block.id, type: 'function' as const, function: { name: block.name, arguments: '' }, ...thinkingExtraContent(state.thinking) };
            state.thinking = [];
            return one(index, { tool_calls: [call] });
          }
          if (block.type === 'thinking') {
            state.blocks.set(event.index, { kind: 'thinking', thinking: block.thinking, signature: block.signature });
            return block.thinking ? one(index, { reasoning_content: block.thinking }) : [];
          }
          if (block.type === 'redacted_thinking') {
            state.thinking.push({ type: 'redacted_thinking', data: block.data });
            state.blocks.set(event.index, { kind: 'other' });
            return [];
          }
          state.blocks.set(event.index, { kind: 'other' });
          return [];
        }
        case 'content_block_delta': {
          const block = state.blocks.get(event.index);
          const delta = event.delta;
          if (delta.type === 'text_delta' && block?.kind === 'text') {
            return delta.text ? one(index, { content: delta.text }) : [];
          }
          if (delta.type === 'thinking_delta' && block?.kind === 'thinking') {
            block.thinking += delta.thinking;
            return delta.thinking ? one(index, { reasoning_content: delta.thinking }) : [];
          }
          if (delta.type === 'signature_delta' && block?.kind === 'thinking') {
            block.signature += delta.signature;
            return [];
          }
          if (delta.type === 'input_json_delta' && block?.kind === 'tool') {
            if (!delta.partial_json) return [];
            block.argumentChars += delta.partial_json.length;
            return one(index, { tool_calls: [{ index: block.toolIndex, function: { arguments: delta.partial_json } }] });
          }
          return [];
        }
        case 'content_block_stop': {
          const block = state.blocks.get(event.index);
          if (block?.kind === 'thinking') state.thinking.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
          if (block?.kind !== 'tool' || block.argumentChars > 0) return [];
          // No argument fragments: the input came whole in content_block_start (usually {}).
          return one(index, { tool_calls: [{ index: block.toolIndex, function: { arguments: JSON.stringify(block.input ?? {}) } }] });
        }
        case 'message_delta': {
          if (state.usage) state.usage = mergeDeltaUsage(state.usage, event.usage);
          const delta: ChunkDelta = {};
          const explanation = event.delta.stop_details?.explanation;
          if (event.delta.stop_reason === 'refusal' && explanation) delta.refusal = explanation;
          return one(index, delta, mapAnthropicStopReason(event.delta.stop_reason));
        }
        case 'message_stop': {
          if (state.stopped) return [];
          state.stopped = true;
          stoppedCount++;
          if (!options.includeUsage || stoppedCount < choices.length) return [];
          return [chunk(metaFor(), [], totalUsage())];
        }
        default:
          // ping, and event types added to the API later
          return [];
      }
    },

    onEnd() {
      if (stoppedCount < choices.length) {
        throw new GatewayError(502, 'Anthropic ended the stream before the message was complete.', 'upstream_error', null, 'upstream_stream_truncated');
      }
      return [];
    },

    errorChunk(error) {
      return errorChunk(metaFor(), error);
    },

    usage() {
      return choices.some((c) => c.usage) ? totalUsage() : null;
    },
  };
}
