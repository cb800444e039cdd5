import { describe, expect, it } from 'vitest';
import type { Deployment } from './catalog';
import type { Health } from './cooldown';
import { selectDeployment, weighted } from './select-deployment';

const d = (label: string, tier = 0, weight = 1): Deployment => ({
  label,
  key: `key:${label}`,
  weight,
  tier,
  target: { name: 'alias', provider: 'azure', model: label, options: {} },
});
const east = d('east', 0, 2);
const sweden = d('sweden', 0, 1);
const openai = d('openai', 1, 1);
const all = [east, sweden, openai];
const NOW = 1_000_000;
const rest = (ms: number, reason: Health['reason'] = 'failures'): Health => ({ failures: [], until: NOW + ms, reason });

describe('selectDeployment', () => {
  const cases: [string, Parameters<typeof selectDeployment>[0] extends infer I ? Partial<I> : never, string | undefined, number?][] = [
    ['weights within the lowest tier: low random → first', { random: () => 0 }, 'east'],
    ['weights: 0.6 of total 3 is still east (weight 2)', { random: () => 0.6 }, 'east'],
    ['weights: 0.7 of total 3 is sweden', { random: () => 0.7 }, 'sweden'],
    ['never the next tier while the first has a ready deployment', { random: () => 0.999 }, 'sweden'],
    ['a retry goes to the sibling this request has not failed on', { failures: new Map([['east', 1]]), random: () => 0 }, 'sweden'],
    ['skips a resting deployment', { health: new Map([['key:east', rest(5000)]]), random: () => 0 }, 'sweden'],
    ['falls to the next tier when the first is excluded', { excluded: new Set(['east', 'sweden']) }, 'openai'],
    ['falls to the next tier when the first rests', { health: new Map([['key:east', rest(5000)], ['key:sweden', rest(5000)]]) }, 'openai'],
    ['a rest that has ended does not count', { health: new Map([['key:east', { failures: [NOW - 1], until: NOW - 1, reason: 'failures' }]]), random: () => 0 }, 'east'],
    ['all resting on failure counts: probe the lowest tier at once', { health: new Map(all.map((x) => [x.key, rest(5000)])), random: () => 0 }, 'east', 0],
    [
      'all resting on retry-after: the soonest, with the wait',
      { health: new Map([['key:east', rest(9000, 'retry_after')], ['key:sweden', rest(3000, 'retry_after')], ['key:openai', rest(4000, 'retry_after')]]) },
      'sweden',
      3000,
    ],
    ['pinned (no fallback): only that one', { pinned: 'sweden', random: () => 0 }, 'sweden'],
    ['pinned and excluded: nothing', { pinned: 'sweden', excluded: new Set(['sweden']) }, undefined],
    ['everything excluded: nothing', { excluded: new Set(['east', 'sweden', 'openai']) }, undefined],
  ];
  it.each(cases)('%s', (_name, input, expected, coolingMs = 0) => {
    const selection = selectDeployment({ deployments: all, excluded: new Set(), failures: new Map(), health: new Map(), now: NOW, random: () => 0.5, ...input });
    expect(selection?.deployment.label).toBe(expected);
    if (expected) expect(selection?.coolingMs).toBe(coolingMs);
  });

  it('spreads by weight (2:1) over many picks', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const counts = { east: 0, sweden: 0 } as Record<string, number>;
    for (let i = 0; i < 3000; i++) counts[weighted([east, sweden], random).label]++;
    expect(counts.east / counts.sweden).toBeGreaterThan(1.7);
    expect(counts.east / counts.sweden).toBeLessThan(2.3);
  });
});
