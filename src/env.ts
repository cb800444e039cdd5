import type { ModelsConfig } from './routing/catalog';

/** Worker bindings: `[vars]` from wrangler.toml plus secrets (`wrangler secret put`, `.dev.vars`). */
export interface Env {
  /** Comma-separated gateway keys accepted from clients (secret); also the bootstrap beside keys in DB. */
  GATEWAY_KEYS?: string;
  /** Gateway keys created through the admin API, stored hashed (migrations/). Without it, GATEWAY_KEYS only. */
  DB?: D1Database;
  /** Bearer token of the admin API under /admin (secret); without it the admin API is off (404). */
  ADMIN_TOKEN?: string;
  /** Public model names → deployments (wrangler.toml `[vars.MODELS]`, or the same as a JSON string). */
  MODELS?: ModelsConfig | string;
  /** Retry, fallback, timeout and cooldown defaults (wrangler.toml `[vars.ROUTING]`, or JSON): routing/retry-policy.ts. */
  ROUTING?: Record<string, unknown> | string;
  /** Durable Object sharing deployment health (cooldowns) across isolates; without it each isolate keeps its own. */
  DEPLOYMENT_HEALTH?: DurableObjectNamespace;
  /** One Durable Object per on-prem model name (tunnel/model-object.ts). */
  ONPREM_MODELS?: DurableObjectNamespace;
  /** Comma-separated tokens local-agents may dial in with (secret). */
  AGENT_TOKENS?: string;
  /** How long an on-prem model waits for an agent to come back before its requests fail (ms). */
  AGENT_IDLE_TIMEOUT_MS?: string;
  /** One Durable Object per gateway key with limits (auth/key-limiter.ts): rpm, tpm, concurrency and budget, exact under concurrency. */
  KEY_LIMITS?: DurableObjectNamespace;
  /** Price overrides, USD per million tokens by provider model id (wrangler.toml `[vars.PRICES]`, or JSON): usage/prices.ts. */
  PRICES?: Record<string, unknown> | string;
  /** Largest request body accepted, in bytes (default 64 MiB). */
  MAX_BODY_BYTES?: string;
  /** Largest single image accepted, in decoded bytes (default 20 MiB). */
  MAX_IMAGE_BYTES?: string;

  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  AZURE_OPENAI_API_KEY?: string;
  /** `https://{resource}.openai.azure.com` */
  AZURE_OPENAI_ENDPOINT?: string;
  AZURE_OPENAI_API_VERSION?: string;
  /** Azure `auth = "entra"` defaults (the names @azure/identity's EnvironmentCredential reads); the secret is AZURE_CLIENT_SECRET unless client_secret_secret names another. */
  AZURE_TENANT_ID?: string;
  AZURE_CLIENT_ID?: string;
  /** Microsoft Entra authority (default https://login.microsoftonline.com; sovereign clouds, tests). */
  AZURE_AUTHORITY_HOST?: string;
  /** One Durable Object per agent-brokered Azure credential (`auth = "agent:NAME"`; credentials/agent-credential.ts). */
  AGENT_CREDENTIALS?: DurableObjectNamespace;
  /** How often (ms) an isolate re-asks an agent-brokered credential's object for its token (default 60000). */
  AGENT_CREDENTIAL_RECHECK_MS?: string;
  ANTHROPIC_API_KEY?: string;
  ANTHROPIC_BASE_URL?: string;
  GEMINI_API_KEY?: string;
  GEMINI_BASE_URL?: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Set when the request's key is stored in D1: its id, name, allowed model patterns (null = all) and limits (auth/admin-requests.ts KeyLimits). */
    gatewayKey?: { id: string; name: string; models: string[] | null; limits: import('./auth/admin-requests').KeyLimits };
    /** Limits and usage accounting of this chat request (usage/meter.ts); unset when neither applies. */
    meter?: import('./usage/meter').Meter;
    /** The model an Azure-style path names (`/openai/deployments/{deployment}/…`): it wins over the body's, as on Azure. */
    pathModel?: string;
  };
}
