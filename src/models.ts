import type { Context } from 'hono';
import type { AppEnv } from './env';
import { providers } from './providers';
import { catalogFor } from './routing/catalog';

/** GET /v1/models: the configured model names whose provider has credentials, in OpenAI's list format. */
export function listModels(c: Context<AppEnv>): Response {
  const data = catalogFor(c.env.MODELS)
    .entries.filter((t) => providers[t.provider].isConfigured(c.env))
    .map((t) => ({ id: t.name, object: 'model', created: 0, owned_by: t.provider }));
  return c.json({ object: 'list', data });
}
