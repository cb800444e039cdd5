import type { Context } from 'hono';
import type { AppEnv } from './env';
import { providers } from './providers';
import { catalogFor } from './routing/catalog';

/** GET /v1/models: the configured model names with a deployment whose provider has credentials, in OpenAI's list format. */
export function listModels(c: Context<AppEnv>): Response {
  const catalog = catalogFor(c.env.MODELS);
  const data = catalog.entries
    .filter((t) => catalog.route(t.name)?.deployments.some((d) => providers[d.target.provider].isConfigured(c.env)))
    .map((t) => ({ id: t.name, object: 'model', created: 0, owned_by: t.provider }));
  return c.json({ object: 'list', data });
}
