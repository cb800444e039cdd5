import type { Context } from 'hono';
import type { AppEnv } from './env';
import { modelAllowed } from './auth/model-patterns';
import { providers } from './providers';
import { cooldownStore } from './chat-completions';
import { catalogFor, type Deployment } from './routing/catalog';
import { deploymentStatuses } from './routing/deployment-status';
import { onPremModels } from './tunnel/agent-connect';

/**
 * GET /v1/models: the configured model names with a deployment whose provider has
 * credentials, then the on-prem models an agent serves right now, in OpenAI's list format.
 */
export async function listModels(c: Context<AppEnv>): Promise<Response> {
  const catalog = catalogFor(c.env.MODELS);
  const routes = catalog.entries.map((t) => catalog.route(t.name)!);
  // Each configured name also shows its deployments' health (an extra field: OpenAI's schema allows them).
  const now = Date.now();
  const health = await cooldownStore(c).read([...new Set(routes.flatMap((r) => r.deployments.map((d) => d.key)))], now);
  const configured = (d: Deployment) => providers[d.target.provider].isConfigured(c.env, d.target.options);
  const data: { id: string; object: string; created: number; owned_by: string; x_switchboard?: object }[] = routes
    .filter((r) => r.deployments.some(configured))
    .map((r) => ({
      id: r.name,
      object: 'model',
      created: 0,
      owned_by: r.deployments[0].target.provider,
      x_switchboard: { deployments: deploymentStatuses(r, health, now, configured) },
    }));
  const listed = new Set(data.map((m) => m.id));
  for (const m of await onPremModels(c.env)) {
    if (!listed.has(m.model)) data.push({ id: m.model, object: 'model', created: 0, owned_by: 'onprem' });
  }
  // A key limited to some models sees only those (auth/model-patterns.ts).
  const allowed = c.get('gatewayKey')?.models ?? null;
  return c.json({ object: 'list', data: allowed === null ? data : data.filter((m) => modelAllowed(allowed, m.id)) });
}
