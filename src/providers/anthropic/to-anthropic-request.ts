import type {
  MessageCreateParamsBase,
  TextBlockParam,
  Tool,
  ToolChoice,
} from '@anthropic-ai/sdk/resources/messages/messages';
import { systemTexts } from '../../openai/messages';
import type { ChatCompletionRequest } from '../../openai/types';
import type { RequestNotes } from '../provider';
import { checkReasoningEffort, thinks, toClaudeThinking } from './thinking-config';
import { toAnthropicMessages } from './to-anthropic-messages';
import { clientAskedForUsage } from '../../openai/chunk-stream';

// OpenAI chat-completion request → Claude Messages API request (pure).
//
// API version. The SDK (v1) speaks API version 2026-10-21, which removed the
// sampling parameters: `temperature`, `top_p` and `top_k` are a 400 there, even at
// their defaults. By default this provider uses that version, and a client's
// `temperature` / `top_p` are dropped and named in x-switchboard-dropped-params
// (the model samples at its defaults, temperature 1). A deployment can pin the older
// version with `anthropic_version = "2023-06-01"`; then `temperature` is sent, with
// OpenAI's range 0–2 fitted to Claude's 0–1: values up to 1 pass unchanged, larger
// ones are clamped to 1 and reported as `temperature=1` in x-switchboard-adapted;
// `top_p` passes unchanged. (Claude 4.7 and later refuse non-default sampling on
// either version, and some 4.5/4.6 models refuse temperature and top_p together;
// Anthropic's 400 for that is passed on with its message.)
//
// response_format. `json_schema` with a schema uses Claude's structured outputs
// (`output_config.format`): the answer text is JSON that matches the schema.
// `json_object` (or `json_schema` without a schema) has no native counterpart, so
// an instruction to answer with one JSON object is appended to the system prompt
// and reported as `response_format=system_prompt` in x-switchboard-adapted: the
// output is then likely, not guaranteed, to be JSON.
//
// reasoning_effort. Claude's thinking (thinking-config.ts). Thinking cannot be
// combined with a tool_choice that forces a tool ("Thinking may not be enabled when
// tool_choice forces tool use"), nor continue a tool round whose assistant turn
// came back without its thinking blocks (a client that dropped
// tool_calls[].extra_content, see thinking-blocks.ts): then the forced tool or the
// conversation wins and `reasoning_effort` is named as dropped. On 2023-06-01,
// thinking takes temperature only at 1 and top_p only from 0.95: a temperature is
// dropped and a smaller top_p raised to 0.95, each named.

export const SDK_API_VERSION = '2026-10-21';
export const LEGACY_API_VERSION = '2023-06-01';
export type AnthropicApiVersion = typeof SDK_API_VERSION | typeof LEGACY_API_VERSION;

export const JSON_OBJECT_INSTRUCTION =
  'Respond with a single valid JSON object and nothing else: no Markdown code fences, no text before or after it.';

export interface AnthropicRequestOptions {
  /** The upstream model id. */
  model: string;
  apiVersion: AnthropicApiVersion;
  /** The deployment's `default_max_tokens`, used when the client sets no limit. */
  defaultMaxTokens?: number;
  maxImageBytes: number;
}

/** The Messages API body without `stream` (set per call). Sampling fields exist only on the legacy version. */
export type AnthropicParams = Omit<MessageCreateParamsBase, 'stream'> & { temperature?: number; top_p?: number };

export interface AnthropicRequest {
  params: AnthropicParams;
  /** Completions asked for: Claude makes one per call, so `n` becomes n calls. */
  n: number;
  stream: boolean;
  includeUsage: boolean;
  notes: RequestNotes;
}

/** The request fields this translation reads; any other field set in a request is named as dropped. */
const CONSUMED = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'user',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'reasoning_effort',
]);

/** Fields whose value here is OpenAI's default, so leaving them out changes nothing. */
const NO_OP_VALUES: Record<string, unknown> = {
  frequency_penalty: 0,
  presence_penalty: 0,
  logprobs: false,
  top_logprobs: 0,
  store: false,
  // Claude's own defaults, for the API version without sampling parameters.
  temperature: 1,
  top_p: 1,
};

export function toAnthropicRequest(request: ChatCompletionRequest, options: AnthropicRequestOptions): AnthropicRequest {
  const notes: RequestNotes = { dropped: [], adapted: [] };
  const sampling = options.apiVersion === LEGACY_API_VERSION;
  const conversation = toAnthropicMessages(request.messages, options.maxImageBytes);

  const params: AnthropicParams = {
    model: options.model,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? options.defaultMaxTokens ?? defaultMaxTokens(options.model),
    messages: conversation.messages,
  };

  const system: TextBlockParam[] = systemTexts(request.messages)
    .filter((text) => /\S/.test(text))
    .map((text) => ({ type: 'text', text }));

  const format = request.response_format;
  if (format?.type === 'json_schema' && format.json_schema.schema) {
    params.output_config = { format: { type: 'json_schema', schema: format.json_schema.schema } };
  } else if (format?.type === 'json_object' || format?.type === 'json_schema') {
    system.push({ type: 'text', text: JSON_OBJECT_INSTRUCTION });
    notes.adapted.push('response_format=system_prompt');
  }
  if (system.length > 0) params.system = system;

  if (request.stop != null) {
    const stops = typeof request.stop === 'string' ? [request.stop] : request.stop;
    // Claude rejects stop sequences that are only whitespace (a common "\n").
    const kept = stops.filter((s) => /\S/.test(s));
    if (kept.length > 0) params.stop_sequences = kept;
    stops.forEach((s, i) => {
      if (!/\S/.test(s)) notes.dropped.push(typeof request.stop === 'string' ? 'stop' : `stop[${i}]`);
    });
  }

  if (typeof request.user === 'string' && request.user !== '') params.metadata = { user_id: request.user };

  const tools = request.tools ?? [];
  if (tools.length > 0) {
    params.tools = tools.map(toAnthropicTool);
    const choice = toAnthropicToolChoice(request.tool_choice, request.parallel_tool_calls);
    if (choice) params.tool_choice = choice;
  }

  if (request.reasoning_effort != null) {
    checkReasoningEffort(request.reasoning_effort);
    const forced = params.tool_choice?.type === 'any' || params.tool_choice?.type === 'tool';
    const lastAssistant = conversation.messages.findLast((m) => m.role === 'assistant');
    const content = Array.isArray(lastAssistant?.content) ? lastAssistant.content : [];
    const unsigned = content.some((b) => b.type === 'tool_use') && content[0]?.type !== 'thinking' && content[0]?.type !== 'redacted_thinking';
    if ((forced || unsigned) && request.reasoning_effort !== 'none') {
      notes.dropped.push('reasoning_effort');
    } else {
      const config = toClaudeThinking(request.reasoning_effort, options.model, params.max_tokens, notes);
      if (config.thinking) params.thinking = config.thinking;
      if (config.effort) params.output_config = { ...params.output_config, effort: config.effort };
    }
  }
  const thinking = thinks({ thinking: params.thinking, effort: params.output_config?.effort ?? undefined });

  if (sampling) {
    if (thinking && request.temperature != null && request.temperature !== 1) {
      notes.dropped.push('temperature');
    } else if (request.temperature != null) {
      params.temperature = Math.min(request.temperature, 1);
      if (request.temperature > 1) notes.adapted.push('temperature=1');
    }
    if (request.top_p != null) {
      params.top_p = thinking ? Math.max(request.top_p, 0.95) : request.top_p;
      if (params.top_p !== request.top_p) notes.adapted.push(`top_p=${params.top_p}`);
    }
  }

  for (const [key, value] of Object.entries(request)) {
    if (value === undefined || value === null || CONSUMED.has(key)) continue;
    if (sampling && (key === 'temperature' || key === 'top_p')) continue;
    if (key in NO_OP_VALUES && NO_OP_VALUES[key] === value) continue;
    if (key === 'logit_bias' && typeof value === 'object' && Object.keys(value).length === 0) continue;
    notes.dropped.push(key);
  }
  notes.dropped.push(...conversation.dropped);
  notes.adapted.push(...conversation.adapted);

  return {
    params,
    n: request.n ?? 1,
    stream: request.stream === true,
    includeUsage: clientAskedForUsage(request),
    notes,
  };
}

function toAnthropicTool(tool: NonNullable<ChatCompletionRequest['tools']>[number]): Tool {
  const fn = tool.function;
  // Claude requires an object schema; OpenAI lets a tool without arguments omit it.
  const schema = fn.parameters ?? { type: 'object', properties: {} };
  const out: Tool = {
    name: fn.name,
    input_schema: (schema.type === undefined ? { type: 'object', ...schema } : schema) as Tool['input_schema'],
  };
  if (fn.description !== undefined) out.description = fn.description;
  // Both mean: the arguments are guaranteed to validate against the schema.
  if (fn.strict === true) out.strict = true;
  return out;
}

function toAnthropicToolChoice(
  choice: ChatCompletionRequest['tool_choice'],
  parallelToolCalls: boolean | undefined,
): ToolChoice | undefined {
  let out: ToolChoice | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'none') out = { type: 'none' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice) out = { type: 'tool', name: choice.function.name };
  if (parallelToolCalls === false) {
    out ??= { type: 'auto' };
    if (out.type !== 'none') out.disable_parallel_tool_use = true;
  }
  return out;
}

/**
 * `max_tokens` when neither the client nor the deployment sets one (Claude requires
 * it). Each is the largest output every model of that family accepts:
 *   claude-3-5-*, claude-3-7-*                    8192
 *   claude-3-* and older (claude-2, claude-instant) 4096
 *   later Claude models (4.x, 5.x, …)             16384 (the smallest maximum among them is 32000)
 *   anything else (a name this gateway cannot read) 4096
 */
export function defaultMaxTokens(model: string): number {
  if (/^claude-3-[57]-/.test(model)) return 8192;
  if (/^claude-(3|2|instant)/.test(model)) return 4096;
  if (/^claude-/.test(model)) return 16384;
  return 4096;
}
