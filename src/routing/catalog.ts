import { expandCredentials } from '../credentials/expand-credentials';
import { configError, isPolicyKey, readPolicyOverrides, type RetryPolicy } from './retry-policy';

/** The upstreams the gateway can translate to. Adding one means adding it here and in providers/index.ts. */
export const PROVIDER_NAMES = ['openai', 'azure', 'anthropic', 'gemini', 'onprem'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Per-deployment settings, from a `[vars.MODELS]` entry. Providers read the ones they know. */
export interface DeploymentOptions {
  /** Azure: `api-version` query parameter for this deployment. */
  api_version?: string;
  /** Azure: the resource endpoint, when this deployment lives in another resource than AZURE_OPENAI_ENDPOINT. */
  endpoint?: string;
  /** Name of the secret holding this deployment's key (default: the provider's, e.g. AZURE_OPENAI_API_KEY). */
  api_key_secret?: string;
  /** Several keys: one deployment per secret named (credentials/expand-credentials.ts). */
  api_key_secrets?: string[] | string;
  /** Azure: "api_key" (default), "entra" (service principal) or "agent:NAME" (token brokered by a local-agent). */
  auth?: string;
  /** Anthropic: `max_tokens` sent when the client sets none (Claude requires one). */
  default_max_tokens?: number;
  /** Gemini: `safetySettings` for this model. */
  safety_settings?: { category: string; threshold: string }[];
  /** Gemini: false for models that take no `systemInstruction` (it is folded into the first user turn). */
  system_instruction?: boolean;
  [key: string]: unknown;
}

/**
 * One `[vars.MODELS]` entry: `"name" = { target = "provider/model", …options }`, or
 * several deployments behind one name: `"name" = { deployments = [{ target, weight,
 * tier, name, …options }, …], …options shared by all }`. Routing settings
 * (retries, budget_ms, …: retry-policy.ts) may sit beside either.
 */
export interface ModelConfig extends DeploymentOptions {
  target?: string;
  deployments?: DeploymentConfig[];
}
export interface DeploymentConfig extends DeploymentOptions {
  target: string;
  /** Share of traffic within its tier (default 1). */
  weight?: number;
  /** Lower tiers are tried first; a higher tier is the fallback (default 0). */
  tier?: number;
  /** Shown in x-switchboard-deployment (default: the target). */
  name?: string;
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

/** One upstream behind a name, as the router balances over it. */
export interface Deployment {
  /** Names it in x-switchboard-deployment; unique within its route. */
  label: string;
  /** Identifies the upstream itself (target, endpoint, key) for shared health state: two aliases of one deployment share it. */
  key: string;
  weight: number;
  tier: number;
  target: Target;
  /** Deployment-level first_byte_timeout_ms, overriding the route's. */
  firstByteTimeoutMs?: number;
}

/** A name the client may ask for, with the deployments that serve it. */
export interface Route {
  name: string;
  deployments: Deployment[];
  /** Routing settings from the entry (over the gateway's). */
  policy: Partial<RetryPolicy>;
}

export interface Catalog {
  /** Configured names, in configuration order, for GET /v1/models (the first deployment of each). */
  entries: Target[];
  /** The first deployment behind a name. */
  resolve(name: string): Target | undefined;
  /** Every deployment behind a name. */
  route(name: string): Route | undefined;
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
  const byName = new Map<string, Route>();
  // Options for `provider/model` names come from the first entry that targets them.
  const byTarget = new Map<string, DeploymentOptions>();
  for (const [name, entry] of Object.entries(models)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw configError(`MODELS["${name}"] must be a table like { target = "provider/model" }.`);
    }
    const where = `MODELS["${name}"]`;
    const policy = readPolicyOverrides(entry, where);
    const { target, deployments, ...rest } = entry;
    const shared = withoutPolicyKeys(rest);
    let list: DeploymentConfig[];
    if (deployments !== undefined) {
      if (target !== undefined) throw configError(`${where} has both target and deployments; use one.`);
      if (!Array.isArray(deployments) || deployments.length === 0) {
        throw configError(`${where}.deployments must be a non-empty list like [{ target = "provider/model", weight = 1 }].`);
      }
      list = deployments;
    } else {
      list = [{ ...shared, target: target as string }];
    }
    const routeDeployments = list.flatMap((d, i) => {
      const at = deployments !== undefined ? `${where}.deployments[${i}]` : where;
      if (typeof d !== 'object' || d === null || Array.isArray(d)) throw configError(`${at} must be a table like { target = "provider/model" }.`);
      // Shared options first, so that api_key_secrets beside `deployments` expands each of them
      // (a deployment's own api_key_secret wins over the shared list).
      const merged = deployments !== undefined ? { ...shared, ...d } : d;
      if (merged !== d && d.api_key_secret !== undefined && d.api_key_secrets === undefined) delete merged.api_key_secrets;
      return expandCredentials(merged, at, configError).map((e) => parseDeployment(name, e, at, {}));
    });
    const labels = new Set<string>();
    for (const d of routeDeployments) {
      if (labels.has(d.label)) throw configError(`${where}.deployments has two deployments named "${d.label}"; give them distinct \`name\`s.`);
      labels.add(d.label);
      const t = `${d.target.provider}/${d.target.model}`;
      if (!byTarget.has(t)) byTarget.set(t, d.target.options);
    }
    byName.set(name, { name, deployments: routeDeployments, policy });
  }
  const route = (name: string): Route | undefined => {
    const configured = byName.get(name);
    if (configured) return configured;
    const split = splitTarget(name);
    if (!split) return undefined;
    const target: Target = { name, ...split, options: byTarget.get(name) ?? {} };
    return { name, deployments: [{ label: name, key: deploymentKey(target), weight: 1, tier: 0, target }], policy: {} };
  };
  return {
    entries: [...byName.values()].map((r) => r.deployments[0].target),
    resolve: (name) => route(name)?.deployments[0].target,
    route,
  };
}

function parseDeployment(name: string, d: DeploymentConfig, at: string, shared: DeploymentOptions): Deployment {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw configError(`${at} must be a table like { target = "provider/model" }.`);
  const split = typeof d.target === 'string' ? splitTarget(d.target) : undefined;
  if (!split) throw configError(`${at}.target must be "provider/model" with provider one of ${PROVIDER_NAMES.join(', ')}.`);
  const { target, weight = 1, tier = 0, name: label, first_byte_timeout_ms, ...own } = d;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) throw configError(`${at}.weight must be a number > 0.`);
  if (typeof tier !== 'number' || !Number.isInteger(tier) || tier < 0) throw configError(`${at}.tier must be an integer ≥ 0.`);
  if (label !== undefined && (typeof label !== 'string' || label === '')) throw configError(`${at}.name must be a non-empty string.`);
  if (first_byte_timeout_ms !== undefined && (typeof first_byte_timeout_ms !== 'number' || !(first_byte_timeout_ms > 0))) {
    throw configError(`${at}.first_byte_timeout_ms must be a number > 0.`);
  }
  const options = withoutPolicyKeys({ ...shared, ...own });
  const t: Target = { name, ...split, options };
  return {
    label: label ?? target,
    key: deploymentKey(t),
    weight,
    tier,
    target: t,
    ...(first_byte_timeout_ms !== undefined ? { firstByteTimeoutMs: first_byte_timeout_ms as number } : {}),
  };
}

function withoutPolicyKeys(options: DeploymentOptions): DeploymentOptions {
  const out: DeploymentOptions = {};
  for (const [k, v] of Object.entries(options)) if (!isPolicyKey(k)) out[k] = v;
  return out;
}

/** The upstream itself: provider, model, and where and with which key it is called (the secret's name, never its value). */
function deploymentKey(t: Target): string {
  const endpoint = typeof t.options.endpoint === 'string' ? t.options.endpoint : '';
  const key = typeof t.options.api_key_secret === 'string' ? t.options.api_key_secret : '';
  const auth = typeof t.options.auth === 'string' ? `|${t.options.auth}|${String(t.options.client_id ?? '')}` : '';
  return `${t.provider}/${t.model}|${endpoint}|${key}${auth}`;
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
