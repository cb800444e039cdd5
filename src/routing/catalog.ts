import { GatewayError } from '../openai/errors';

/** The upstreams the gateway can translate to. Adding one means adding it here and in providers/index.ts. */
export const PROVIDER_NAMES = ['openai', 'azure', 'anthropic', 'gemini'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Per-deployment settings, from a `[vars.MODELS]` entry. Providers read the ones they know. */
export interface DeploymentOptions {
  /** Azure: `api-version` query parameter for this deployment. */
  api_version?: string;
  /** Azure: the resource endpoint, when this deployment lives in another resource than AZURE_OPENAI_ENDPOINT. */
  endpoint?: string;
  /** Azure: name of the secret holding that resource's key (default AZURE_OPENAI_API_KEY). */
  api_key_secret?: string;
  /** Anthropic: `max_tokens` sent when the client sets none (Claude requires one). */
  default_max_tokens?: number;
  /** Gemini: `safetySettings` for this model. */
  safety_settings?: { category: string; threshold: string }[];
  /** Gemini: false for models that take no `systemInstruction` (it is folded into the first user turn). */
  system_instruction?: boolean;
  [key: string]: unknown;
}

/** One `[vars.MODELS]` entry: `"name" = { target = "provider/model", …options }`. */
export interface ModelConfig extends DeploymentOptions {
  target: string;
}
export type ModelsConfig = Record<string, ModelConfig>;

export interface Target {
  /** The name the client asked for (an alias or `provider/model`). */
  name: string;
  provider: ProviderName;
  /** The upstream model id (Azure: the deployment name). */
  model: string;
  options: DeploymentOptions;
}

export interface Catalog {
  /** Configured names, in configuration order, for GET /v1/models. */
  entries: Target[];
  resolve(name: string): Target | undefined;
}

const isProvider = (p: string): p is ProviderName => (PROVIDER_NAMES as readonly string[]).includes(p);

function splitTarget(target: string): { provider: ProviderName; model: string } | undefined {
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1) return undefined;
  const provider = target.slice(0, slash);
  return isProvider(provider) ? { provider, model: target.slice(slash + 1) } : undefined;
}

/** Builds the catalog from configuration; a malformed entry is a configuration error (500, named). */
export function buildCatalog(config: ModelsConfig | string | undefined): Catalog {
  let models: ModelsConfig;
  try {
    models = typeof config === 'string' ? JSON.parse(config) : (config ?? {});
  } catch {
    throw configError('MODELS is not valid JSON.');
  }
  if (typeof models !== 'object' || models === null || Array.isArray(models)) {
    throw configError('MODELS must be a table (an object) of model names.');
  }
  const byName = new Map<string, Target>();
  // Options for `provider/model` names come from the first entry that targets them.
  const byTarget = new Map<string, DeploymentOptions>();
  for (const [name, entry] of Object.entries(models)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw configError(`MODELS["${name}"] must be a table like { target = "provider/model" }.`);
    }
    const split = typeof entry.target === 'string' ? splitTarget(entry.target) : undefined;
    if (!split) {
      throw configError(`MODELS["${name}"].target must be "provider/model" with provider one of ${PROVIDER_NAMES.join(', ')}.`);
    }
    const { target: _target, ...options } = entry;
    byName.set(name, { name, ...split, options });
    if (!byTarget.has(entry.target)) byTarget.set(entry.target, options);
  }
  return {
    entries: [...byName.values()],
    resolve(name) {
      const configured = byName.get(name);
      if (configured) return configured;
      const split = splitTarget(name);
      return split && { name, ...split, options: byTarget.get(name) ?? {} };
    },
  };
}

const catalogs = new WeakMap<object, Catalog>();
let lastString: { text: string; catalog: Catalog } | undefined;

/** The catalog for this environment, built once per configuration object. */
export function catalogFor(config: ModelsConfig | string | undefined): Catalog {
  if (typeof config === 'string') {
    if (lastString?.text !== config) lastString = { text: config, catalog: buildCatalog(config) };
    return lastString.catalog;
  }
  const key = config ?? catalogs;
  let catalog = catalogs.get(key);
  if (!catalog) catalogs.set(key, (catalog = buildCatalog(config)));
  return catalog;
}

function configError(message: string) {
  return new GatewayError(500, `Gateway configuration error: ${message}`, 'server_error', null, 'gateway_misconfigured');
}
