import { badRequest } from '../../openai/errors';
import { partsOf, systemTexts, textOf, toolCallNames } from '../../openai/messages';
import type { ChatMessage, ContentPart, ImagePart, ToolCall } from '../../openai/types';
import type { RequestNotes } from '../provider';
import type { GeminiBlob, GeminiContent, GeminiPart, GeminiRole } from './types';

// OpenAI messages → Gemini `contents` + `systemInstruction`.
//   system / developer (anywhere, all text parts) → systemInstruction, one part per
//     text; for models that take none, folded into the first user turn instead
//   user → user; assistant → model; tool / function results → user functionResponse
//   consecutive turns of one role are merged (Gemini wants user and model to alternate,
//     and parallel tool results to arrive together in one turn)
//   images → inlineData, already fetched and sniffed by resolve-images.ts, in place
//   assistant tool_calls → functionCall parts, carrying the thought signature the
//     gateway returned in tool_calls[].extra_content.google.thought_signature

/** Google's documented placeholder for a function call whose signature was lost (https://ai.google.dev/gemini-api/docs/thought-signatures). */
export const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

export interface ContentsOptions {
  /** Every image part of the request, resolved to bytes (resolve-images.ts). */
  images: ReadonlyMap<ImagePart, GeminiBlob>;
  /** Whether the model accepts a systemInstruction (model-capabilities.ts). */
  systemInstruction: boolean;
  /** Whether the model rejects function calls without a thought signature (Gemini 3+). */
  thoughtSignatures: boolean;
}

export interface GeminiConversation {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
}

export function toGeminiContents(messages: ChatMessage[], options: ContentsOptions, notes: RequestNotes): GeminiConversation {
  const names = toolCallNames(messages);
  const contents: GeminiContent[] = [];
  let placeholders = 0;
  const push = (role: GeminiRole, parts: GeminiPart[]) => {
    // A message with nothing Gemini can carry (empty text) is left out: Gemini rejects empty parts.
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        return;
      case 'user':
        return push('user', partsOf(m.content).flatMap((p, j) => contentPart(p, `${at}.content[${j}]`, options)));
      case 'assistant': {
        const parts = assistantParts(m, at, options);
        if (options.thoughtSignatures) {
          const firstCall = parts.find((p) => p.functionCall);
          if (firstCall && !firstCall.thoughtSignature) {
            firstCall.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
            placeholders++;
          }
        }
        return push('model', parts);
      }
      case 'tool': {
        const id = m.tool_call_id ?? '';
        const name = names.get(id);
        if (!name) {
          throw badRequest(
            `${at}.tool_call_id '${id.slice(0, 64)}' matches no tool call of an earlier assistant message; Gemini needs the function's name, which only that call carries.`,
            `${at}.tool_call_id`,
            'invalid_tool_call_id',
          );
        }
        return push('user', functionResult(name, m, at, options));
      }
      case 'function': {
        // The legacy functions API: the result names its function itself.
        if (typeof m.name !== 'string' || !m.name) {
          throw badRequest(`${at}.name is required on a function message.`, `${at}.name`, 'missing_required_parameter');
        }
        return push('user', functionResult(m.name, m, at, options));
      }
    }
  });

  if (placeholders > 0) notes.adapted.push('tool_calls.thought_signature=skip_thought_signature_validator');

  const system = systemTexts(messages);
  let systemInstruction: GeminiConversation['systemInstruction'];
  if (system.length > 0 && options.systemInstruction) {
    systemInstruction = { parts: system.map((text) => ({ text })) };
  } else if (system.length > 0) {
    const text = system.join('\n\n');
    if (contents[0]?.role === 'user') contents[0].parts.unshift({ text });
    else contents.unshift({ role: 'user', parts: [{ text }] });
    notes.adapted.push('system_instruction=first_user_turn');
  }

  if (contents.length === 0) {
    throw badRequest('messages has no user or assistant message with content; Gemini needs at least one.', 'messages', 'invalid_value');
  }
  return systemInstruction ? { contents, systemInstruction } : { contents };
}

function contentPart(part: ContentPart, at: string, options: ContentsOptions): GeminiPart[] {
  switch (part.type) {
    case 'text':
      return part.text ? [{ text: part.text }] : [];
    case 'refusal':
      return typeof part.refusal === 'string' && part.refusal ? [{ text: part.refusal }] : [];
    case 'image_url': {
      const blob = options.images.get(part);
      // resolve-images.ts visits every image part first; a miss is a gateway bug, not bad input.
      if (!blob) throw new Error(`image at ${at} was not resolved`);
      return [{ inlineData: blob }];
    }
    case 'input_audio': {
      const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
      if (typeof audio?.data !== 'string' || (audio.format !== 'wav' && audio.format !== 'mp3')) {
        throw badRequest(`${at}.input_audio needs base64 data and a format of 'wav' or 'mp3'.`, `${at}.input_audio`, 'invalid_value');
      }
      return [{ inlineData: { mimeType: `audio/${audio.format}`, data: audio.data } }];
    }
    case 'file': {
      const file = part.file as { file_data?: unknown; file_id?: unknown } | undefined;
      const match = typeof file?.file_data === 'string' ? /^data:([\w.+-]+\/[\w.+-]+)(?:;[^,;]*)*;base64,/i.exec(file.file_data.slice(0, 256)) : null;
      if (!match) {
        const why = file?.file_id !== undefined ? "file_id refers to OpenAI's file storage, which Gemini cannot read" : 'it has no file_data';
        throw badRequest(`${at}.file cannot be sent to Gemini: ${why}. Send the file inline as a base64 data: URL in file_data.`, `${at}.file`, 'invalid_value');
      }
      return [{ inlineData: { mimeType: match[1].toLowerCase(), data: (file!.file_data as string).slice(match[0].length) } }];
    }
  }
}

function assistantParts(m: ChatMessage, at: string, options: ContentsOptions): GeminiPart[] {
  const parts = partsOf(m.content).flatMap((p, j) => contentPart(p, `${at}.content[${j}]`, options));
  (m.tool_calls ?? []).forEach((call, k) => {
    const part: GeminiPart = {
      functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, `${at}.tool_calls[${k}].function.arguments`) },
    };
    const signature = thoughtSignatureOf(call);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  const legacy = m.function_call as { name?: unknown; arguments?: unknown } | undefined;
  if (legacy && typeof legacy.name === 'string') {
    parts.push({ functionCall: { name: legacy.name, args: parseArguments(legacy.arguments, `${at}.function_call.arguments`) } });
  }
  return parts;
}

/** Where the gateway put the signature on the way out (the place Google's own OpenAI-compatible endpoint uses). */
function thoughtSignatureOf(call: ToolCall): string | undefined {
  const extra = (call as ToolCall & { extra_content?: { google?: { thought_signature?: unknown } } }).extra_content;
  const signature = extra?.google?.thought_signature;
  return typeof signature === 'string' && signature ? signature : undefined;
}

/** Tool-call arguments (a JSON string) → the object Gemini's functionCall.args must be. */
function parseArguments(text: unknown, param: string): Record<string, unknown> {
  if (typeof text !== 'string' || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest(`${param} is not valid JSON.`, param, 'invalid_value');
  }
  if (!isPlainObject(value)) throw badRequest(`${param} must be a JSON object, as function arguments are.`, param, 'invalid_value');
  return value;
}

/** A tool result as a functionResponse, plus any images it returned (inlined after it, in order). */
function functionResult(name: string, m: ChatMessage, at: string, options: ContentsOptions): GeminiPart[] {
  const parts: GeminiPart[] = [{ functionResponse: { name, response: responseObject(textOf(m.content)) } }];
  if (Array.isArray(m.content)) {
    m.content.forEach((p, j) => {
      if (p.type === 'image_url') parts.push(...contentPart(p, `${at}.content[${j}]`, options));
    });
  }
  return parts;
}

/** functionResponse.response must be a JSON object: a JSON object result stays one, anything else is wrapped as {content}. */
export function responseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return isPlainObject(value) ? value : { content: value };
  } catch {
    return { content: text };
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
