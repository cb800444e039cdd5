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
  ANTHROPIC_API_KEY?: string;
  ANTHROPIC_BASE_URL?: string;
  GEMINI_API_KEY?: string;
  GEMINI_BASE_URL?: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Set when the request's key is stored in D1: its id and allowed model patterns (null = all). */
    gatewayKey?: { id: string; models: string[] | null };
  };
}
