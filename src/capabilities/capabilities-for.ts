import { GatewayError } from '../openai/errors';
import type { DeploymentOptions, ProviderName, Target } from '../routing/catalog';
import { MODEL_TABLE, PROVIDER_DEFAULTS, type ImageFormat, type ModelCapabilities } from './model-table';

// The capabilities of one deployment: the first matching row of the table over the
// provider's defaults, then the deployment's own settings on top:
//   capabilities = { like = "gpt-5", max_output_tokens = 32000, system = "fold", … }
//     `like` names the model whose row applies (an Azure deployment called "prod");
//     any other key is a ModelCapabilities field.
//   default_max_tokens = N       (also read by the Anthropic translation)
//   system_instruction = false   (Gemini's older switch: the same as system = "fold")
// Resolved once per deployment and cached: the request path does a map lookup, not
// a walk over the table's patterns.

type Fields = Omit<ModelCapabilities, 'family'>;
type Kind = 'boolean' | 'count_or_null' | readonly string[] | 'formats';

const IMAGE_FORMATS: readonly ImageFormat[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/heic', 'image/heif'];

/** How each configurable field is checked. */
const FIELD_KINDS: Record<keyof Fields, Kind> = {
  system: ['native', 'fold'],
  temperature: ['any', 'default_only', 'none'],
  top_p: 'boolean',
  temperature_xor_top_p: 'boolean',
  penalties: 'boolean',
  logprobs: 'boolean',
  reasoning_effort: 'boolean',
  max_output_tokens: 'count_or_null',
  default_max_tokens: 'count_or_null',
  max_tokens_field: ['either', 'max_completion_tokens'],
  vision: 'boolean',
  image_formats: 'formats',
  max_images: 'count_or_null',
  max_image_bytes: 'count_or_null',
  tools: 'boolean',
};

/** The bare model id: `models/gemma-3-27b-it` and `gemma-3-27b-it` are the same model. */
export const bareModelId = (model: string) => model.slice(model.lastIndexOf('/') + 1).toLowerCase();

/** The table's answer for a model id, before any deployment setting. */
export function tableCapabilities(provider: ProviderName, model: string): ModelCapabilities {
  const id = bareModelId(model);
  // Azure runs OpenAI's models under deployment names.
  const rows = MODEL_TABLE[provider === 'azure' ? 'openai' : provider];
  const row = rows.find((r) => r.match.test(id));
  const family = row ? `${provider}/${row.family}` : `${provider}/* (not in the table)`;
  return { ...PROVIDER_DEFAULTS[provider], ...row?.caps, family };
}

const byModel = new Map<string, ModelCapabilities>();
const MAX_CACHED_MODELS = 512;
const byOptions = new WeakMap<DeploymentOptions, { provider: ProviderName; model: string; caps: ModelCapabilities }>();

const hasOverrides = (o: DeploymentOptions) =>
  o.capabilities !== undefined || o.default_max_tokens !== undefined || o.system_instruction !== undefined;

/** The capabilities of a deployment (cached per model, or per configuration entry when it overrides any). */
export function capabilitiesFor(target: Pick<Target, 'name' | 'provider' | 'model' | 'options'>): ModelCapabilities {
  if (!hasOverrides(target.options)) {
    const key = `${target.provider}/${target.model}`;
    let caps = byModel.get(key);
    if (!caps) {
      if (byModel.size >= MAX_CACHED_MODELS) byModel.clear();
      byModel.set(key, (caps = tableCapabilities(target.provider, target.model)));
    }
    return caps;
  }
  const cached = byOptions.get(target.options);
  if (cached && cached.provider === target.provider && cached.model === target.model) return cached.caps;
  const caps = withOverrides(target);
  byOptions.set(target.options, { provider: target.provider, model: target.model, caps });
  return caps;
}

function withOverrides(target: Pick<Target, 'name' | 'provider' | 'model' | 'options'>): ModelCapabilities {
  const { options } = target;
  const at = `MODELS["${target.name}"]`;
  const overrides = options.capabilities ?? {};
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw configError(`${at}.capabilities must be a table like { max_output_tokens = 8192 }.`);
  }
  const { like, ...fields } = overrides as Record<string, unknown>;
  if (like !== undefined && (typeof like !== 'string' || like === '')) throw configError(`${at}.capabilities.like must be a model name.`);
  const caps = tableCapabilities(target.provider, typeof like === 'string' ? like : target.model);
  if (like !== undefined) caps.family = `${caps.family} (like ${like})`;
  if (typeof options.default_max_tokens === 'number') caps.default_max_tokens = options.default_max_tokens;
  if (options.system_instruction === false) caps.system = 'fold';
  if (options.system_instruction === true) caps.system = 'native';
  for (const [key, value] of Object.entries(fields)) {
    const kind = FIELD_KINDS[key as keyof Fields];
    if (!kind) throw configError(`${at}.capabilities.${key} is not a capability (known: like, ${Object.keys(FIELD_KINDS).join(', ')}).`);
    if (!fits(kind, value)) throw configError(`${at}.capabilities.${key} must be ${describe(kind)}.`);
    (caps as unknown as Record<string, unknown>)[key] = value;
  }
  return caps;
}

function fits(kind: Kind, value: unknown): boolean {
  if (kind === 'boolean') return typeof value === 'boolean';
  if (kind === 'count_or_null') return value === null || (Number.isInteger(value) && (value as number) > 0);
  if (kind === 'formats') return Array.isArray(value) && value.every((f) => IMAGE_FORMATS.includes(f));
  return typeof value === 'string' && kind.includes(value);
}

function describe(kind: Kind): string {
  if (kind === 'boolean') return 'true or false';
  if (kind === 'count_or_null') return 'a positive integer (or null: no limit)';
  if (kind === 'formats') return `a list of ${IMAGE_FORMATS.map((f) => `"${f}"`).join(', ')}`;
  return `one of ${kind.map((k) => `"${k}"`).join(', ')}`;
}

function configError(message: string) {
  return new GatewayError(500, `Gateway configuration error: ${message}`, 'server_error', null, 'gateway_misconfigured');
}
