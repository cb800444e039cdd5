import { badRequest } from '../openai/errors';
import { isHttpUrl, sniffImageMediaType } from '../openai/data-url';
import { isSystemRole, systemTexts } from '../openai/messages';
import type { ChatCompletionRequest, ChatMessage } from '../openai/types';
import type { RequestNotes } from '../providers/provider';
import type { ImageFormat, ModelCapabilities } from './model-table';

// A request fitted to what the target model accepts (pure; the table is in
// model-table.ts). What a model rejects is dropped, what exceeds a limit is clamped,
// a system prompt the model cannot take is folded into the first user turn; each
// change is named in the notes (x-switchboard-dropped-params / x-switchboard-adapted).
// In strict mode nothing is changed: the would-be changes are a 400 instead.
// Images cannot be changed (no re-encoding yet), so an image the model cannot take
// is a 400 in either mode.

export interface AdaptOptions {
  strict: boolean;
  /** The name the client used, for messages. */
  model: string;
}

interface Change {
  param: string;
  kind: 'dropped' | 'adapted';
  /** The header entry: the param for dropped ones, `param=value` for adapted ones. */
  note: string;
  why: string;
}

export const SYSTEM_FOLDED = 'system_instruction=first_user_turn';
const SNIFFABLE: ImageFormat[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const FORMAT_NAMES: Record<ImageFormat, string> = {
  'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/gif': 'GIF', 'image/webp': 'WebP', 'image/heic': 'HEIC', 'image/heif': 'HEIF',
};

export function adaptRequest(
  request: ChatCompletionRequest,
  caps: ModelCapabilities,
  options: AdaptOptions,
): { request: ChatCompletionRequest; notes: RequestNotes } {
  checkImages(request.messages, caps, options.model);
  if (!caps.tools && request.tools && request.tools.length > 0) {
    throw badRequest(`The model '${options.model}' (${caps.family}) does not support tools.`, 'tools', 'tools_not_supported');
  }

  const out: ChatCompletionRequest = { ...request };
  const changes: Change[] = [];
  const drop = (param: string, why: string) => {
    delete out[param];
    changes.push({ param, kind: 'dropped', note: param, why });
  };
  const set = (param: string, value: unknown, why: string) => {
    out[param] = value;
    changes.push({ param, kind: 'adapted', note: `${param}=${value}`, why });
  };
  const isSet = (param: string) => out[param] !== undefined && out[param] !== null;

  if (caps.system === 'fold' && request.messages.some((m) => isSystemRole(m.role))) {
    out.messages = foldSystem(request.messages);
    changes.push({ param: 'messages', kind: 'adapted', note: SYSTEM_FOLDED, why: 'the model has no system role, so the system text was put into the first user turn' });
  }

  if (caps.temperature === 'none' && isSet('temperature')) drop('temperature', 'the model takes no temperature');
  if (caps.temperature === 'default_only' && isSet('temperature') && out.temperature !== 1) {
    drop('temperature', 'the model accepts only the default temperature (1)');
  }
  if (!caps.top_p && isSet('top_p')) {
    if (out.top_p === 1) delete out.top_p; // the default: leaving it out changes nothing
    else drop('top_p', 'the model takes no top_p');
  }
  if (caps.temperature_xor_top_p && isSet('temperature') && isSet('top_p')) {
    drop('top_p', 'the model refuses temperature and top_p together; temperature was kept');
  }
  if (!caps.penalties) {
    for (const param of ['frequency_penalty', 'presence_penalty']) {
      if (!isSet(param)) continue;
      if (out[param] === 0) delete out[param];
      else drop(param, 'the model takes no frequency or presence penalty');
    }
  }
  if (!caps.logprobs) {
    if (out.logprobs === false) delete out.logprobs;
    else if (isSet('logprobs')) drop('logprobs', 'the model returns no logprobs');
    if (out.top_logprobs === 0) delete out.top_logprobs;
    else if (isSet('top_logprobs')) drop('top_logprobs', 'the model returns no logprobs');
  }
  if (!caps.reasoning_effort && isSet('reasoning_effort')) drop('reasoning_effort', 'the model takes no reasoning_effort');

  if (caps.max_tokens_field === 'max_completion_tokens' && isSet('max_tokens')) {
    if (!isSet('max_completion_tokens')) {
      out.max_completion_tokens = out.max_tokens;
      changes.push({ param: 'max_tokens', kind: 'adapted', note: 'max_tokens=max_completion_tokens', why: 'the model takes max_completion_tokens instead of max_tokens' });
    } else {
      changes.push({ param: 'max_tokens', kind: 'dropped', note: 'max_tokens', why: 'the model takes max_completion_tokens instead of max_tokens' });
    }
    delete out.max_tokens;
  }
  // The deployment's default when the client sets no limit (Claude requires one): not a change to what was asked.
  if (caps.default_max_tokens !== null && !isSet('max_tokens') && !isSet('max_completion_tokens')) {
    out.max_tokens = caps.default_max_tokens;
  }
  const limit = caps.max_output_tokens;
  if (limit !== null) {
    for (const param of ['max_completion_tokens', 'max_tokens']) {
      const value = out[param];
      if (typeof value === 'number' && value > limit) set(param, limit, `the model writes at most ${limit} tokens`);
    }
  }

  if (changes.length === 0) return { request: out.max_tokens === request.max_tokens ? request : out, notes: { dropped: [], adapted: [] } };
  if (options.strict) {
    const list = changes.map((c) => `${c.kind === 'dropped' ? `drop ${c.param}` : c.note} (${c.why})`).join('; ');
    throw badRequest(
      `x-switchboard-strict is set, and the model '${options.model}' (${caps.family}) needs these changes to the request: ${list}.`,
      changes[0].param,
      'strict_adaptation_refused',
    );
  }
  return {
    request: out,
    notes: {
      dropped: changes.filter((c) => c.kind === 'dropped').map((c) => c.note),
      adapted: changes.filter((c) => c.kind === 'adapted').map((c) => c.note),
    },
  };
}

/**
 * The system and developer texts, joined, as the first part of the first user turn
 * (a user turn is opened for it if the conversation starts otherwise).
 */
function foldSystem(messages: ChatMessage[]): ChatMessage[] {
  const text = systemTexts(messages).join('\n\n');
  const rest = messages.filter((m) => !isSystemRole(m.role));
  if (!text) return rest;
  const first = rest[0];
  if (first?.role !== 'user') return [{ role: 'user', content: text }, ...rest];
  const parts = typeof first.content === 'string' ? (first.content ? [{ type: 'text' as const, text: first.content }] : []) : (first.content ?? []);
  return [{ ...first, content: [{ type: 'text', text }, ...parts] }, ...rest.slice(1)];
}

/** Images the model cannot take: a 400 naming the image and what the model accepts. */
function checkImages(messages: ChatMessage[], caps: ModelCapabilities, model: string): void {
  const sniff = !SNIFFABLE.every((f) => caps.image_formats.includes(f));
  let count = 0;
  messages.forEach((m, i) => {
    if (!Array.isArray(m.content)) return;
    m.content.forEach((part, j) => {
      if (part.type !== 'image_url') return;
      const param = `messages[${i}].content[${j}].image_url.url`;
      if (!caps.vision) {
        throw badRequest(`The model '${model}' (${caps.family}) does not accept images; ${param} is one.`, param, 'images_not_supported');
      }
      count++;
      if (caps.max_images !== null && count > caps.max_images) {
        throw badRequest(`The model '${model}' (${caps.family}) accepts at most ${caps.max_images} images per request; ${param} is image ${count}.`, param, 'too_many_images');
      }
      const url = part.image_url?.url;
      if (typeof url !== 'string' || isHttpUrl(url)) return;
      const comma = url.indexOf(',');
      if (comma < 0) return; // malformed: the provider's own check names it
      if (caps.max_image_bytes !== null) {
        const bytes = decodedBytes(url, comma);
        if (bytes > caps.max_image_bytes) {
          throw badRequest(
            `${param} is ${bytes} bytes; the model '${model}' (${caps.family}) accepts images up to ${caps.max_image_bytes} bytes. Resize or recompress it.`,
            param,
            'image_too_large',
          );
        }
      }
      if (sniff) {
        const type = sniffHead(url, comma);
        if (type && !caps.image_formats.includes(type)) {
          throw badRequest(
            `${param} is a ${FORMAT_NAMES[type]} image; the model '${model}' (${caps.family}) accepts ${caps.image_formats.map((f) => FORMAT_NAMES[f]).join(', ')}. Convert it first (the gateway does not re-encode images).`,
            param,
            'unsupported_image_format',
          );
        }
      }
    });
  });
}

/** The decoded size of a base64 payload, from its length (whitespace counted: an upper bound). */
function decodedBytes(url: string, comma: number): number {
  const chars = url.length - comma - 1;
  const padding = url.endsWith('==') ? 2 : url.endsWith('=') ? 1 : 0;
  return Math.floor((chars * 3) / 4) - padding;
}

/** The format of a base64 data: URL from its first bytes, or null when unknown or malformed. */
function sniffHead(url: string, comma: number): ImageFormat | null {
  let binary: string;
  try {
    binary = atob(url.slice(comma + 1, comma + 25).replace(/\s+/g, ''));
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return sniffImageMediaType(bytes);
}
