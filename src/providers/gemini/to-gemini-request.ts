import { GatewayError } from '../../openai/errors';
import type { ChatCompletionRequest, ImagePart } from '../../openai/types';
import type { Target } from '../../routing/catalog';
import type { RequestNotes } from '../provider';
import { toGenerationConfig } from './generation-config';
import { requiresThoughtSignatures, supportsSystemInstruction } from './model-capabilities';
import { toThinkingConfig } from './thinking-config';
import { toGeminiContents } from './to-gemini-contents';
import { toGeminiTools } from './to-gemini-tools';
import type { GeminiBlob, GeminiSafetySetting, GenerateContentRequest } from './types';

// An OpenAI chat-completions request → a Gemini generateContent request. Pure: the
// images were fetched before (resolve-images.ts). Parameters with no Gemini
// counterpart are named in notes.dropped, never silently ignored.

/** Request fields this translation reads; any other non-null field is reported as dropped. */
const TRANSLATED = new Set([
  'model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p', 'top_k', 'n', 'stop', 'max_tokens',
  'max_completion_tokens', 'presence_penalty', 'frequency_penalty', 'seed', 'response_format', 'logprobs',
  'top_logprobs', 'tools', 'tool_choice', 'reasoning_effort',
]);

export function toGeminiRequest(
  request: ChatCompletionRequest,
  target: Target,
  images: ReadonlyMap<ImagePart, GeminiBlob>,
  notes: RequestNotes,
): GenerateContentRequest {
  for (const [key, value] of Object.entries(request)) {
    if (value == null || (TRANSLATED.has(key) && !(key === 'top_k' && typeof value !== 'number'))) continue;
    // Gemini may call several functions at once, which is what `true` asks for.
    if (key === 'parallel_tool_calls' && value === true) continue;
    notes.dropped.push(key);
  }

  const { contents, systemInstruction } = toGeminiContents(
    request.messages,
    {
      images,
      systemInstruction: supportsSystemInstruction(target.model, target.options),
      thoughtSignatures: requiresThoughtSignatures(target.model),
    },
    notes,
  );
  const body: GenerateContentRequest = { contents };
  if (systemInstruction) body.systemInstruction = systemInstruction;
  const generationConfig = toGenerationConfig(request, notes);
  if (generationConfig) body.generationConfig = generationConfig;
  // Models without thinking never see reasoning_effort: the model table drops it (capabilities/).
  if (request.reasoning_effort != null) {
    body.generationConfig = { ...body.generationConfig, thinkingConfig: toThinkingConfig(request.reasoning_effort, target.model, notes) };
  }
  const { tools, toolConfig } = toGeminiTools(request, notes);
  if (tools) body.tools = tools;
  if (toolConfig) body.toolConfig = toolConfig;
  const safetySettings = safetySettingsOf(target);
  if (safetySettings) body.safetySettings = safetySettings;
  return body;
}

/** `safety_settings` of the model's configuration entry, passed on as Gemini's safetySettings. */
function safetySettingsOf(target: Target): GeminiSafetySetting[] | undefined {
  const settings = target.options.safety_settings;
  if (settings === undefined) return undefined;
  const valid =
    Array.isArray(settings) &&
    settings.every((s) => typeof s === 'object' && s !== null && typeof s.category === 'string' && typeof s.threshold === 'string');
  if (!valid) {
    throw new GatewayError(
      500,
      `Gateway configuration error: safety_settings of the model '${target.name}' must be a list of { category, threshold } strings.`,
      'server_error',
      null,
      'gateway_misconfigured',
    );
  }
  return settings.length > 0 ? settings.map(({ category, threshold }) => ({ category, threshold })) : undefined;
}
