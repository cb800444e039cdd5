import type {
  ContentBlockParam,
  ImageBlockParam,
  MessageParam,
  TextBlockParam,
  ToolResultBlockParam,
  ToolUseBlockParam,
} from '@anthropic-ai/sdk/resources/messages/messages';
import { isHttpUrl, parseImageDataUrl } from '../../openai/data-url';
import { badRequest } from '../../openai/errors';
import { isSystemRole, partsOf } from '../../openai/messages';
import type { ChatMessage, ContentPart } from '../../openai/types';
import { thinkingBlocksOf } from './thinking-blocks';

// OpenAI's conversation as Claude's: system and developer turns leave the list (they
// become the top-level `system`, see to-anthropic-request.ts), tool results become
// `tool_result` blocks in a user turn, and consecutive turns of one role are merged,
// because Claude wants user and assistant turns to alternate. Parts keep their order.
// An assistant turn's thinking blocks, which came back on its tool calls (see
// thinking-blocks.ts), are put back where Claude wants them: the first call's
// before everything else in the turn, the others' before their own tool_use.

/** The user turn added when the conversation would otherwise not begin with one. */
export const PLACEHOLDER_USER_TEXT = '.';

export interface AnthropicConversation {
  messages: MessageParam[];
  /** Fields with no Claude counterpart that were set somewhere in the messages. */
  dropped: string[];
  /** Changes made so Claude accepts the conversation, as `param=value`. */
  adapted: string[];
}

type Role = 'user' | 'assistant';
type Turn = { role: Role; content: ContentBlockParam[] };

export function toAnthropicMessages(messages: ChatMessage[], maxImageBytes: number): AnthropicConversation {
  const turns: Turn[] = [];
  const dropped = new Set<string>();

  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (isSystemRole(m.role)) return;
    // A tool message's name only repeats its call's, which Claude knows from the tool_use.
    if (m.name != null && m.role !== 'tool') dropped.add('messages[].name');
    let role: Role;
    let blocks: ContentBlockParam[];
    switch (m.role) {
      case 'user':
        role = 'user';
        blocks = contentBlocks(m.content, at, maxImageBytes, dropped);
        break;
      case 'assistant':
        role = 'assistant';
        blocks = assistantBlocks(m, at);
        break;
      case 'tool':
        role = 'user';
        blocks = [toolResultBlock(m, at, maxImageBytes, dropped)];
        break;
      default:
        throw badRequest(
          `${at}.role: '${m.role}' messages (the legacy function-calling format) cannot be sent to Anthropic models; use tool_calls and 'tool' messages.`,
          `${at}.role`,
          'unsupported_value',
        );
    }
    // A turn with nothing Claude can take (empty or whitespace-only text) would be rejected.
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  });

  const adapted: string[] = [];
  if (turns.length === 0 || turns[0].role !== 'user') {
    // Claude's conversation must open with a user turn; OpenAI's may open with the
    // assistant (a greeting) or hold only instructions.
    turns.unshift({ role: 'user', content: [{ type: 'text', text: PLACEHOLDER_USER_TEXT }] });
    adapted.push('messages=user_turn_added');
  }
  for (const turn of turns) if (turn.role === 'user') toolResultsFirst(turn.content);
  return { messages: turns, dropped: [...dropped], adapted };
}

/** Text and image parts of a user or tool message, in order. */
function contentBlocks(
  content: ChatMessage['content'],
  at: string,
  maxImageBytes: number,
  dropped: Set<string>,
): Array<TextBlockParam | ImageBlockParam> {
  if (typeof content === 'string') return isBlank(content) ? [] : [{ type: 'text', text: content }];
  const blocks: Array<TextBlockParam | ImageBlockParam> = [];
  (content ?? []).forEach((part, j) => {
    const partAt = `${at}.content[${j}]`;
    if (part.type === 'text') {
      if (!isBlank(part.text)) blocks.push({ type: 'text', text: part.text });
    } else if (part.type === 'image_url') {
      if (part.image_url.detail && part.image_url.detail !== 'auto') dropped.add('messages[].content[].image_url.detail');
      blocks.push(imageBlock(part.image_url.url, `${partAt}.image_url.url`, maxImageBytes));
    } else {
      throw unsupportedPart(part, partAt);
    }
  });
  return blocks;
}

function assistantBlocks(m: ChatMessage, at: string): ContentBlockParam[] {
  const calls = m.tool_calls ?? [];
  const thinking = calls.map((call, k) => thinkingBlocksOf(call, `${at}.tool_calls[${k}]`));
  const blocks: ContentBlockParam[] = [...(thinking[0] ?? [])];
  partsOf(m.content).forEach((part, j) => {
    // A refusal the assistant gave earlier is part of what it said.
    const text = part.type === 'text' ? part.text : part.type === 'refusal' ? String(part.refusal) : undefined;
    if (text === undefined) throw unsupportedPart(part, `${at}.content[${j}]`);
    if (!isBlank(text)) blocks.push({ type: 'text', text });
  });
  calls.forEach((call, k) => {
    if (k > 0) blocks.push(...thinking[k]);
    const toolUse: ToolUseBlockParam = {
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: parseToolArguments(call.function.arguments, `${at}.tool_calls[${k}].function.arguments`),
    };
    blocks.push(toolUse);
  });
  return blocks;
}

function toolResultBlock(m: ChatMessage, at: string, maxImageBytes: number, dropped: Set<string>): ToolResultBlockParam {
  const block: ToolResultBlockParam = { type: 'tool_result', tool_use_id: String(m.tool_call_id) };
  const content = contentBlocks(m.content, at, maxImageBytes, dropped);
  if (content.length > 0) block.content = content;
  return block;
}

/**
 * An image part as a Claude image block. A `data:` URL's media type is sniffed from
 * the bytes (Claude rejects a label that does not match them, and clients often
 * label PNG screenshots image/jpeg); an http(s) URL is fetched by Anthropic.
 */
export function imageBlock(url: string, param: string, maxImageBytes: number): ImageBlockParam {
  if (url.startsWith('data:')) {
    const image = parseImageDataUrl(url, param, maxImageBytes);
    return { type: 'image', source: { type: 'base64', media_type: image.mediaType, data: image.base64 } };
  }
  if (isHttpUrl(url)) return { type: 'image', source: { type: 'url', url } };
  throw badRequest(`${param} must be a base64 data: URL or an http(s) URL.`, param, 'invalid_image_url');
}

/** A tool call's `arguments` (a JSON string) as the object Claude's `tool_use.input` must be. */
export function parseToolArguments(args: string, param: string): Record<string, unknown> {
  // Some clients send "" for a call without arguments.
  if (isBlank(args)) return {};
  let input: unknown;
  try {
    input = JSON.parse(args);
  } catch (e) {
    throw badRequest(
      `${param} is not valid JSON (${e instanceof Error ? e.message : 'parse error'}).`,
      param,
      'invalid_tool_arguments',
    );
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest(`${param} must be a JSON object, as Anthropic models take tool input as an object.`, param, 'invalid_tool_arguments');
  }
  return input as Record<string, unknown>;
}

/** Claude wants a user turn's tool results before anything else in it (a stable reorder). */
function toolResultsFirst(blocks: ContentBlockParam[]): void {
  const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
  if (firstOther < 0 || !blocks.slice(firstOther).some((b) => b.type === 'tool_result')) return;
  const results = blocks.filter((b) => b.type === 'tool_result');
  const others = blocks.filter((b) => b.type !== 'tool_result');
  blocks.splice(0, blocks.length, ...results, ...others);
}

function unsupportedPart(part: ContentPart, at: string) {
  return badRequest(`${at}.type: '${String(part.type).slice(0, 40)}' parts cannot be sent to Anthropic models on this gateway.`, `${at}.type`, 'unsupported_value');
}

const isBlank = (text: string) => !/\S/.test(text);
