import type { Context } from 'hono';
import type { AppEnv } from './env';
import { modelAllowed } from './auth/model-patterns';
import { modelNotFound } from './openai/errors';
import { providers } from './providers';
import { cooldownStore } from './chat-completions';
import { catalogFor, type Deployment, type Route } from './routing/catalog';
import { deploymentStatuses } from './routing/deployment-status';
import { onPremModels } from './tunnel/agent-connect';

/** OpenAI's Model object, with the deployments' health as an extra field (OpenAI's schema allows them). */
interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  x_switchboard?: object;
}

/**
 * GET /v1/models: the configured model names with a deployment whose provider has
 * credentials, then the on-prem models an agent serves right now, in OpenAI's list format.
 */
export async function listModels(c: Context<AppEnv>): Promise<Response> {
  const catalog = catalogFor(c.env.MODELS);
  const data = await describeRoutes(c, catalog.entries.map((t) => catalog.route(t.name)!));
  const listed = new Set(data.map((m) => m.id));
  for (const m of await onPremModels(c.env)) {
    if (!listed.has(m.model)) data.push(onPremModel(m.model));
  }
  // A key limited to some models sees only those (auth/model-patterns.ts).
  const allowed = c.get('gatewayKey')?.models ?? null;
  return c.json({ object: 'list', data: allowed === null ? data : data.filter((m) => modelAllowed(allowed, m.id)) });
}

/**
 * GET /v1/models/{model} (the SDKs' `models.retrieve`): one model as the list shows it, or a
 * `provider/model` name, which routes without being configured. The name may arrive
 * percent-encoded (`openai%2Fgpt-4o`, as the openai SDK sends it) or with its slash as is.
 * A name the key may not use is as unknown as one that does not exist (404), as in the list.
 */
export async function retrieveModel(c: Context<AppEnv>): Promise<Response> {
  const name = c.req.param('model') ?? '';
  const allowed = c.get('gatewayKey')?.models ?? null;
  if (allowed !== null && !modelAllowed(allowed, name)) throw modelNotFound(name);
  const route = catalogFor(c.env.MODELS).route(name);
  const [described] = route ? await describeRoutes(c, [route]) : [];
  if (described) return c.json(described);
  if ((await onPremModels(c.env)).some((m) => m.model === name)) return c.json(onPremModel(name));
  throw modelNotFound(name);
}

/** The routes with a deployment whose provider has credentials, as Model objects. */
async function describeRoutes(c: Context<AppEnv>, routes: Route[]): Promise<ModelObject[]> {
  const now = Date.now();
  const health = await cooldownStore(c).read([...new Set(routes.flatMap((r) => r.deployments.map((d) => d.key)))], now);
  const configured = (d: Deployment) => providers[d.target.provider].isConfigured(c.env, d.target.options);
  return routes
    .filter((r) => r.deployments.some(configured))
    .map((r) => ({
      id: r.name,
      object: 'model',
      created: 0,
      owned_by: r.deployments[0].target.provider,
      x_switchboard: { deployments: deploymentStatuses(r, health, now, configured) },
    }));
}

const onPremModel = (id: string): ModelObject => ({ id, object: 'model', created: 0, owned_by: 'onprem' });
