import { describe, expect, it } from 'vitest';
import type { Deployment, Route } from './catalog';
import type { Health } from './cooldown';
import { deploymentStatuses, type DeploymentStatus } from './deployment-status';

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const dep = (label: string, provider: 'azure' | 'openai' = 'azure', tier = 0, weight = 1): Deployment => ({
  label,
  key: `key:${label}`,
  weight,
  tier,
  target: { name: 'alias', provider, model: `m-${label}`, options: { endpoint: 'https://secret-resource.openai.azure.com', api_key_secret: 'AZURE_EAST_KEY' } },
});
const route: Route = { name: 'alias', deployments: [dep('east', 'azure', 0, 2), dep('backup', 'openai', 1)], policy: {} };

describe('deploymentStatuses', () => {
  const ready = (name: string, target: string, tier: number, weight: number): DeploymentStatus => ({ name, target, tier, weight, status: 'ready' });
  const cases: [name: string, health: [string, Health][], configured: string[], expected: DeploymentStatus[]][] = [
    ['no trouble known: all ready', [], ['east', 'backup'], [ready('east', 'azure/m-east', 0, 2), ready('backup', 'openai/m-backup', 1, 1)]],
    [
      'rate limited with retry-after: resting until then, and why',
      [['key:east', { failures: [NOW - 1000], until: NOW + 30_000, reason: 'retry_after' }]],
      ['east', 'backup'],
      [
        { ...ready('east', 'azure/m-east', 0, 2), status: 'resting', until: '2026-11-26T12:00:30.000Z', reason: 'retry_after', recent_failures: 1 },
        ready('backup', 'openai/m-backup', 1, 1),
      ],
    ],
    [
      'failed too often: resting for failures (the count restarts with the rest)',
      [['key:backup', { failures: [], until: NOW + 5_000, reason: 'failures' }]],
      ['east', 'backup'],
      [ready('east', 'azure/m-east', 0, 2), { ...ready('backup', 'openai/m-backup', 1, 1), status: 'resting', until: '2026-11-26T12:00:05.000Z', reason: 'failures' }],
    ],
    [
      'a rest that is over: ready, its recent failures still shown',
      [['key:east', { failures: [NOW - 2000, NOW - 1000], until: NOW - 1, reason: 'retry_after' }]],
      ['east', 'backup'],
      [{ ...ready('east', 'azure/m-east', 0, 2), recent_failures: 2 }, ready('backup', 'openai/m-backup', 1, 1)],
    ],
    ['a provider without credentials here', [], ['east'], [ready('east', 'azure/m-east', 0, 2), { ...ready('backup', 'openai/m-backup', 1, 1), status: 'not_configured' }]],
  ];
  it.each(cases)('%s', (_name, health, configured, expected) => {
    expect(deploymentStatuses(route, new Map(health), NOW, (d) => configured.includes(d.label))).toEqual(expected);
  });

  it('never shows endpoints or key names', () => {
    const text = JSON.stringify(deploymentStatuses(route, new Map(), NOW, () => true));
    expect(text).not.toContain('secret-resource');
    expect(text).not.toContain('AZURE_EAST_KEY');
  });
});
