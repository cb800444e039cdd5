import type { Env } from '../env';
import { GatewayError } from '../openai/errors';
import type { DeploymentOptions } from '../routing/catalog';

// Which secret a deployment authenticates with: its `api_key_secret` option names a
// Worker secret (so several credentials of one provider can sit side by side), else the
// provider's default secret. Errors name the secret, never its value.

/** The value of the Worker secret (or var) called `name`. */
export function secretValue(env: Env, name: string): string | undefined {
  const value = (env as unknown as Record<string, unknown>)[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The secret's name this deployment uses. */
export function apiKeySecretName(options: DeploymentOptions, defaultName: string): string {
  return typeof options.api_key_secret === 'string' && options.api_key_secret !== '' ? options.api_key_secret : defaultName;
}

/** Whether the deployment's API key is there (for routing and GET /v1/models). */
export function hasApiKey(env: Env, options: DeploymentOptions | undefined, defaultName: string): boolean {
  return secretValue(env, apiKeySecretName(options ?? {}, defaultName)) !== undefined;
}

/** The deployment's API key, or a 503 naming the missing secret. */
export function apiKeyFor(env: Env, options: DeploymentOptions, defaultName: string, provider: string): string {
  const name = apiKeySecretName(options, defaultName);
  const value = secretValue(env, name);
  if (value === undefined) {
    throw new GatewayError(503, `${provider} is not configured on this gateway (no ${name}).`, 'server_error', null, 'provider_not_configured');
  }
  return value;
}
