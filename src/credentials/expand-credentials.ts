import type { DeploymentConfig } from '../routing/catalog';

// Several credentials of one provider behind one deployment: `api_key_secrets =
// ["ANTHROPIC_KEY_A", "ANTHROPIC_KEY_B"]` (or "ANTHROPIC_KEY_A,ANTHROPIC_KEY_B") becomes
// one deployment per secret. Each is then a deployment of its own to the router: its
// own health key (a 429 on key A rests key A only), its own label
// (`anthropic/claude-sonnet-4-5#ANTHROPIC_KEY_A` in x-switchboard-deployment: the
// secret's name, never its value), and an equal share of the original weight, so the
// deployment as a whole keeps its share of the traffic.

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The deployments this one stands for; `problem` receives a configuration error to throw. */
export function expandCredentials(d: DeploymentConfig, at: string, problem: (message: string) => Error): DeploymentConfig[] {
  const { api_key_secrets: raw, ...rest } = d;
  if (raw === undefined) return [d];
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && SECRET_NAME.test(s))) {
    throw problem(`${at}.api_key_secrets must be a non-empty list of secret names like ["ANTHROPIC_KEY_A", "ANTHROPIC_KEY_B"] (or one comma-separated string).`);
  }
  if (new Set(list).size !== list.length) throw problem(`${at}.api_key_secrets names a secret twice.`);
  if (rest.api_key_secret !== undefined) throw problem(`${at} has both api_key_secret and api_key_secrets; use one.`);
  const weight = rest.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) return [d]; // reported by the catalog
  const base = typeof rest.name === 'string' && rest.name !== '' ? rest.name : rest.target;
  return (list as string[]).map((secret) => ({ ...rest, api_key_secret: secret, name: `${base}#${secret}`, weight: weight / list.length }));
}
