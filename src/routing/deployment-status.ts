import type { Deployment, Route } from './catalog';
import type { Health } from './cooldown';

/** One deployment as GET /v1/models shows it (`x_switchboard.deployments`). */
export interface DeploymentStatus {
  /** As x-switchboard-deployment names it. */
  name: string;
  /** `provider/model`. */
  target: string;
  tier: number;
  weight: number;
  /** ready: takes traffic; resting: skipped while another is ready (cooldown); not_configured: its provider has no credentials here. */
  status: 'ready' | 'resting' | 'not_configured';
  /** While resting: until when (ISO 8601), and why (it asked with retry-after, or it failed too often). */
  until?: string;
  reason?: Health['reason'];
  /** Recent failures counted towards a rest (cooldown_failures within cooldown_window_ms). */
  recent_failures?: number;
}

/**
 * The deployments of a name with the health this isolate knows of them. Endpoints and
 * key names stay out: they are the operator's configuration, not the client's business.
 */
export function deploymentStatuses(route: Route, health: ReadonlyMap<string, Health>, now: number, configured: (d: Deployment) => boolean): DeploymentStatus[] {
  return route.deployments.map((d) => {
    const h = health.get(d.key);
    const status: DeploymentStatus = {
      name: d.label,
      target: `${d.target.provider}/${d.target.model}`,
      tier: d.tier,
      weight: d.weight,
      status: !configured(d) ? 'not_configured' : h && h.until > now ? 'resting' : 'ready',
    };
    if (h && h.until > now) {
      status.until = new Date(h.until).toISOString();
      if (h.reason) status.reason = h.reason;
    }
    if (h && h.failures.length > 0) status.recent_failures = h.failures.length;
    return status;
  });
}
