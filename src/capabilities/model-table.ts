import type { ProviderName } from '../routing/catalog';

// What each known model accepts, as data. One row per model family, matched by the
// bare model id (`models/gemini-2.5-flash` → `gemini-2.5-flash`, lower case); the
// first matching row of the target's provider wins, and its fields override the
// provider's defaults. A deployment can override any field in configuration
// (`capabilities = { … }` in its [vars.MODELS] entry, see capabilities-for.ts).
//
// Sources are the providers' documentation and the error messages their APIs return
// (quoted beside each rule). Where a limit could not be confirmed the field is left
// `null` ("unknown: let the upstream decide"): the gateway then changes nothing, which
// is always safe. Dropping a sampling parameter a model might have accepted is the
// safe direction too, so newer families of a line inherit its latest restrictions.

export type ImageFormat = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp' | 'image/heic' | 'image/heif';

export interface ModelCapabilities {
  /** Which row matched (`openai/gpt-5`, …), for error messages and the README table. */
  family: string;
  /** `fold`: the model has no system role; system/developer text goes into the first user turn. */
  system: 'native' | 'fold';
  /** `default_only`: only 1 is accepted (other values are dropped); `none`: never sent. */
  temperature: 'any' | 'default_only' | 'none';
  /** Whether `top_p` is accepted at all. */
  top_p: boolean;
  /** `temperature` and `top_p` together are a 400: `temperature` is kept, `top_p` dropped. */
  temperature_xor_top_p: boolean;
  /** Whether `frequency_penalty` / `presence_penalty` are accepted. */
  penalties: boolean;
  /** Whether `logprobs` / `top_logprobs` are accepted. */
  logprobs: boolean;
  /** Whether `reasoning_effort` is accepted (else it is dropped). */
  reasoning_effort: boolean;
  /** Largest `max_tokens` the model accepts (larger ones are clamped); null: unknown. */
  max_output_tokens: number | null;
  /** `max_tokens` sent when the client sets none; null: the upstream's own default. */
  default_max_tokens: number | null;
  /** `max_completion_tokens`: the upstream rejects `max_tokens`, so it is renamed. */
  max_tokens_field: 'either' | 'max_completion_tokens';
  /** Whether the model takes images at all. */
  vision: boolean;
  /** Image formats the upstream accepts (checked on the bytes of data: URLs). */
  image_formats: ImageFormat[];
  /** Most images per request; null: unknown. */
  max_images: number | null;
  /** Largest image (decoded bytes); null: only the gateway's MAX_IMAGE_BYTES. */
  max_image_bytes: number | null;
  /** Whether `tools` are accepted. */
  tools: boolean;
}

export interface ModelRow {
  /** Shown in errors and docs, e.g. `gpt-5*`. */
  family: string;
  match: RegExp;
  /** An example id, used by the tests and the README table. */
  example: string;
  caps: Partial<Omit<ModelCapabilities, 'family'>>;
}

const MiB = 1024 * 1024;

/** What a model of an unknown family gets: nothing changed, every check left to the upstream. */
const PERMISSIVE: Omit<ModelCapabilities, 'family'> = {
  system: 'native',
  temperature: 'any',
  top_p: true,
  temperature_xor_top_p: false,
  penalties: true,
  logprobs: true,
  reasoning_effort: true,
  max_output_tokens: null,
  default_max_tokens: null,
  max_tokens_field: 'either',
  vision: true,
  image_formats: ['image/png', 'image/jpeg', 'image/gif', 'image/webp'],
  max_images: null,
  max_image_bytes: null,
  tools: true,
};

// OpenAI reasoning models (o-series, GPT-5): "Unsupported parameter: 'max_tokens' is
// not supported with this model. Use 'max_completion_tokens' instead."; "Unsupported
// value: 'temperature' does not support 0.1 with this model. Only the default (1)
// value is supported."; "Unsupported parameter: 'frequency_penalty' is not supported
// with this model." (same for presence_penalty, top_p and logprobs).
const OPENAI_REASONING: ModelRow['caps'] = {
  temperature: 'default_only',
  top_p: false,
  penalties: false,
  logprobs: false,
  max_tokens_field: 'max_completion_tokens',
};
const OPENAI_CHAT: ModelRow['caps'] = { reasoning_effort: false };

// Claude: system blocks, no penalties (the translation has nowhere to put them);
// images JPEG, PNG, GIF, WebP; 100 images per request on the API for 200k-context
// models (600 for others: 100 is the safe bound); a base64 image over 5 MB is a 400
// ("image exceeds 5 MB maximum"). Output limits from the models overview and the
// API's own error ("max_tokens: 64001 > 64000, which is the maximum allowed number
// of output tokens for claude-sonnet-4-5-20250929"). `default_max_tokens` is what the
// Anthropic translation sends when the client sets none (to-anthropic-request.ts).
const CLAUDE: ModelRow['caps'] = {
  penalties: false,
  logprobs: false,
  reasoning_effort: false,
  image_formats: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'],
  max_images: 100,
  max_image_bytes: 5 * MiB,
  default_max_tokens: 16384,
};
// Claude Sonnet/Haiku 4.5 and later, Opus 4.1 and later: "`temperature` and `top_p`
// cannot both be specified for this model. Please use only one."
const CLAUDE_XOR = { ...CLAUDE, temperature_xor_top_p: true, reasoning_effort: true };
// Claude Opus 4.7 and later (and the 5.x line): "`temperature` is deprecated for this
// model." for any value but 1; `top_p` and `top_k` refused at every value.
const CLAUDE_NO_SAMPLING = { ...CLAUDE, temperature: 'default_only', top_p: false, reasoning_effort: true } as const;
// The thinking models (3.7 Sonnet and every 4.x and later): `reasoning_effort` becomes
// Claude's thinking (providers/anthropic/thinking-config.ts); earlier ones drop it.
const CLAUDE_THINKING = { ...CLAUDE, reasoning_effort: true };

// Gemini: images PNG, JPEG, WebP, HEIC, HEIF ("Unsupported MIME type: image/gif");
// Gemini 2.5 and later: "Penalty is not enabled for models/gemini-2.5-flash". Image
// counts and inline sizes differ between the Gemini API and Vertex AI, so are left
// unknown. `reasoning_effort` becomes thinkingConfig on the thinking models (2.5 and
// later, providers/gemini/thinking-config.ts) and is dropped for the others.
const GEMINI: ModelRow['caps'] = {
  logprobs: true,
  reasoning_effort: false,
  image_formats: ['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'],
};

export const MODEL_TABLE: Record<ProviderName, ModelRow[]> = {
  openai: [
    // Non-reasoning chat snapshot of GPT-5: 16,384 output tokens.
    { family: 'gpt-5*-chat*', match: /^gpt-5(\.\d+)?-chat/, example: 'gpt-5-chat-latest', caps: { ...OPENAI_CHAT, max_output_tokens: 16384 } },
    { family: 'gpt-5*', match: /^gpt-5/, example: 'gpt-5', caps: { ...OPENAI_REASONING, max_output_tokens: 128000 } },
    // o1-mini / o1-preview: no system role ("'messages[0].role' does not support 'system'
    // with this model"), no images, no tools, no reasoning_effort.
    { family: 'o1-mini', match: /^o1-mini/, example: 'o1-mini', caps: { ...OPENAI_REASONING, system: 'fold', vision: false, tools: false, reasoning_effort: false, max_output_tokens: 65536 } },
    { family: 'o1-preview', match: /^o1-preview/, example: 'o1-preview', caps: { ...OPENAI_REASONING, system: 'fold', vision: false, tools: false, reasoning_effort: false, max_output_tokens: 32768 } },
    { family: 'o3-mini', match: /^o3-mini/, example: 'o3-mini', caps: { ...OPENAI_REASONING, vision: false, max_output_tokens: 100000 } },
    { family: 'o1, o3, o4-mini, …', match: /^o\d/, example: 'o4-mini', caps: { ...OPENAI_REASONING, max_output_tokens: 100000 } },
    // "max_tokens is too large: 32000. This model supports at most 16384 completion tokens"
    { family: 'gpt-4.1*', match: /^gpt-4\.1/, example: 'gpt-4.1', caps: { ...OPENAI_CHAT, max_output_tokens: 32768 } },
    { family: 'gpt-4o-2024-05-13', match: /^gpt-4o-2024-05-13/, example: 'gpt-4o-2024-05-13', caps: { ...OPENAI_CHAT, max_output_tokens: 4096 } },
    { family: 'gpt-4o*', match: /^(gpt-4o|chatgpt-4o)/, example: 'gpt-4o', caps: { ...OPENAI_CHAT, max_output_tokens: 16384 } },
    { family: 'gpt-4-turbo*', match: /^gpt-4-(turbo|\d{4}-preview|vision)/, example: 'gpt-4-turbo', caps: { ...OPENAI_CHAT, max_output_tokens: 4096 } },
    { family: 'gpt-3.5-turbo*', match: /^gpt-3\.5-turbo/, example: 'gpt-3.5-turbo', caps: { ...OPENAI_CHAT, vision: false, max_output_tokens: 4096 } },
  ],
  // Azure deployments are matched by their name against the OpenAI rows (see
  // capabilities-for.ts): a deployment named otherwise says which model it runs with
  // `capabilities = { like = "gpt-5" }`.
  azure: [],
  anthropic: [
    { family: 'claude-opus-4-7, claude-opus-4-8', match: /^claude-opus-4-[78]/, example: 'claude-opus-4-7', caps: { ...CLAUDE_NO_SAMPLING, max_output_tokens: 128000 } },
    // Claude 5 and later (and the other new names the SDK lists): restrictions of the newest 4.x; output limit unknown.
    { family: 'claude-*-5*, later', match: /^claude-(sonnet|opus|haiku)-([5-9]|\d{2})|^claude-(fable|mythos)/, example: 'claude-sonnet-5-5', caps: { ...CLAUDE_NO_SAMPLING, max_output_tokens: null } },
    { family: 'claude-opus-4-6', match: /^claude-opus-4-6/, example: 'claude-opus-4-6', caps: { ...CLAUDE_XOR, max_output_tokens: 128000 } },
    { family: 'claude-sonnet-4-5, -4-6, claude-haiku-4-5, claude-opus-4-5', match: /^claude-(sonnet-4-[56]|haiku-4-5|opus-4-5)/, example: 'claude-sonnet-4-6', caps: { ...CLAUDE_XOR, max_output_tokens: 64000 } },
    { family: 'claude-opus-4-1', match: /^claude-opus-4-1/, example: 'claude-opus-4-1', caps: { ...CLAUDE_XOR, max_output_tokens: 32000 } },
    { family: 'claude-opus-4', match: /^claude-opus-4(-0|-\d{8}|$)/, example: 'claude-opus-4-20250514', caps: { ...CLAUDE_THINKING, max_output_tokens: 32000 } },
    { family: 'claude-sonnet-4', match: /^claude-sonnet-4(-0|-\d{8}|$)/, example: 'claude-sonnet-4-20250514', caps: { ...CLAUDE_THINKING, max_output_tokens: 64000 } },
    { family: 'claude-3-7-sonnet', match: /^claude-3-7-/, example: 'claude-3-7-sonnet-20250219', caps: { ...CLAUDE_THINKING, max_output_tokens: 64000, default_max_tokens: 8192 } },
    { family: 'claude-3-5-*', match: /^claude-3-5-/, example: 'claude-3-5-haiku-20241022', caps: { ...CLAUDE, max_output_tokens: 8192, default_max_tokens: 8192 } },
    { family: 'claude-3-*', match: /^claude-3-/, example: 'claude-3-haiku-20240307', caps: { ...CLAUDE, max_output_tokens: 4096, default_max_tokens: 4096 } },
    { family: 'claude-2*, claude-instant*', match: /^claude-(2|instant)/, example: 'claude-2.1', caps: { ...CLAUDE, max_output_tokens: 4096, default_max_tokens: 4096 } },
    // A Claude name this table cannot read: Claude's common rules, no output limit.
    { family: 'claude-*', match: /^claude-/, example: 'claude-next', caps: { ...CLAUDE } },
  ],
  gemini: [
    // Gemma served through the Gemini API: "Developer instruction is not enabled for
    // models/gemma-3-27b-it", "Function calling is not enabled for models/…".
    { family: 'gemma-*', match: /^gemma-/, example: 'gemma-3-27b-it', caps: { ...GEMINI, system: 'fold', tools: false, max_output_tokens: 8192 } },
    { family: 'gemini-1.0-pro, gemini-pro', match: /^gemini-(1\.0-)?pro(-vision)?(-\d{3}|-latest)?$/, example: 'gemini-1.0-pro', caps: { ...GEMINI, system: 'fold' } },
    { family: 'gemini-3*, later', match: /^gemini-([3-9]|\d{2})/, example: 'gemini-3-pro-preview', caps: { ...GEMINI, penalties: false, reasoning_effort: true, max_output_tokens: 65536 } },
    { family: 'gemini-2.5*', match: /^gemini-2\.5-/, example: 'gemini-2.5-flash', caps: { ...GEMINI, penalties: false, reasoning_effort: true, max_output_tokens: 65536 } },
    // Thinking and experimental 2.0 models already refused penalties.
    { family: 'gemini-2.0-*thinking*, gemini-exp-*', match: /^gemini-2\.0-.*thinking|^gemini-exp-/, example: 'gemini-2.0-flash-thinking-exp', caps: { ...GEMINI, penalties: false } },
    { family: 'gemini-2.0*', match: /^gemini-2\.0-/, example: 'gemini-2.0-flash', caps: { ...GEMINI, max_output_tokens: 8192 } },
    { family: 'gemini-1.5*', match: /^gemini-1\.5-/, example: 'gemini-1.5-flash', caps: { ...GEMINI, max_output_tokens: 8192 } },
    // A Gemini name this table cannot read is most likely a newer model: no penalties (dropping them is the safe side).
    { family: 'gemini-*', match: /^gemini-/, example: 'gemini-next', caps: { ...GEMINI, penalties: false } },
  ],
  onprem: [],
};

export const PROVIDER_DEFAULTS: Record<ProviderName, Omit<ModelCapabilities, 'family'>> = {
  openai: PERMISSIVE,
  azure: PERMISSIVE,
  anthropic: { ...PERMISSIVE, ...CLAUDE },
  gemini: { ...PERMISSIVE, ...GEMINI },
  // On-prem engines (vLLM, LMDeploy, custom) take the request unchanged: the engine decides.
  onprem: PERMISSIVE,
};
