import { describe, expect, it } from 'vitest';
import { buildCatalog } from '../routing/catalog';
import { expandCredentials } from './expand-credentials';

const problem = (m: string) => new Error(m);

describe('expandCredentials', () => {
  const cases: [name: string, input: object, expected: object[]][] = [
    ['leaves a deployment without api_key_secrets alone', { target: 'anthropic/c', weight: 2 }, [{ target: 'anthropic/c', weight: 2 }]],
    [
      'one deployment per secret, the weight split, the label naming the secret',
      { target: 'anthropic/c', api_key_secrets: ['KEY_A', 'KEY_B'] },
      [
        { target: 'anthropic/c', api_key_secret: 'KEY_A', name: 'anthropic/c#KEY_A', weight: 0.5 },
        { target: 'anthropic/c', api_key_secret: 'KEY_B', name: 'anthropic/c#KEY_B', weight: 0.5 },
      ],
    ],
    [
      'a comma-separated string, spaces ignored, the given name and weight kept',
      { target: 'azure/gpt-4o', name: 'east', weight: 3, tier: 1, endpoint: 'https://e', api_key_secrets: 'K1, K2 ,K3' },
      [
        { target: 'azure/gpt-4o', name: 'east#K1', weight: 1, tier: 1, endpoint: 'https://e', api_key_secret: 'K1' },
        { target: 'azure/gpt-4o', name: 'east#K2', weight: 1, tier: 1, endpoint: 'https://e', api_key_secret: 'K2' },
        { target: 'azure/gpt-4o', name: 'east#K3', weight: 1, tier: 1, endpoint: 'https://e', api_key_secret: 'K3' },
      ],
    ],
    ['a single secret in the list', { target: 'openai/gpt-4o', api_key_secrets: ['ONLY'] }, [{ target: 'openai/gpt-4o', api_key_secret: 'ONLY', name: 'openai/gpt-4o#ONLY', weight: 1 }]],
  ];
  it.each(cases)('%s', (_name, input, expected) => expect(expandCredentials(input as never, 'X', problem)).toEqual(expected));

  it.each([
    ['an empty list', []],
    ['an empty string', ''],
    ['not a secret name', ['sk-ant-api03-abc']],
    ['a number', [1]],
    ['a table', { a: 'B' }],
  ])('rejects %s', (_name, value) => {
    expect(() => expandCredentials({ target: 'anthropic/c', api_key_secrets: value } as never, 'MODELS["c"]', problem)).toThrow(/MODELS\["c"\]\.api_key_secrets must be/);
  });

  it('rejects a secret named twice, and api_key_secret beside api_key_secrets', () => {
    expect(() => expandCredentials({ target: 'a/b', api_key_secrets: ['A', 'A'] } as never, 'X', problem)).toThrow(/twice/);
    expect(() => expandCredentials({ target: 'a/b', api_key_secret: 'A', api_key_secrets: ['B'] } as never, 'X', problem)).toThrow(/both/);
  });
});

describe('the catalog with api_key_secrets', () => {
  it('expands a single-target entry and a deployment in a list, each with its own health key', () => {
    const catalog = buildCatalog({
      claude: { target: 'anthropic/claude-sonnet-4-5', api_key_secrets: ['ANTHROPIC_KEY_A', 'ANTHROPIC_KEY_B'], default_max_tokens: 100 },
      mixed: { deployments: [{ target: 'azure/gpt-4o', name: 'east', api_key_secrets: 'EAST_A,EAST_B' }, { target: 'openai/gpt-4o', tier: 1 }] },
    });
    const claude = catalog.route('claude')!;
    expect(claude.deployments.map((d) => [d.label, d.weight, d.target.options.api_key_secret, d.target.options.default_max_tokens])).toEqual([
      ['anthropic/claude-sonnet-4-5#ANTHROPIC_KEY_A', 0.5, 'ANTHROPIC_KEY_A', 100],
      ['anthropic/claude-sonnet-4-5#ANTHROPIC_KEY_B', 0.5, 'ANTHROPIC_KEY_B', 100],
    ]);
    expect(new Set(claude.deployments.map((d) => d.key)).size).toBe(2);
    expect(claude.deployments[0].target.options).not.toHaveProperty('api_key_secrets');
    expect(catalog.route('mixed')!.deployments.map((d) => d.label)).toEqual(['east#EAST_A', 'east#EAST_B', 'openai/gpt-4o']);
  });

  it('expands api_key_secrets given beside `deployments` for each deployment', () => {
    const catalog = buildCatalog({ both: { api_key_secrets: ['A', 'B'], deployments: [{ target: 'anthropic/x', name: 'x' }, { target: 'anthropic/y', name: 'y' }] } });
    expect(catalog.route('both')!.deployments.map((d) => d.label)).toEqual(['x#A', 'x#B', 'y#A', 'y#B']);
  });

  it('a deployment’s own api_key_secret wins over api_key_secrets beside `deployments`', () => {
    const catalog = buildCatalog({ both: { api_key_secrets: ['A', 'B'], deployments: [{ target: 'anthropic/x', name: 'x', api_key_secret: 'OWN' }, { target: 'anthropic/y', name: 'y' }] } });
    expect(catalog.route('both')!.deployments.map((d) => [d.label, d.target.options.api_key_secret])).toEqual([
      ['x', 'OWN'],
      ['y#A', 'A'],
      ['y#B', 'B'],
    ]);
  });

  it('reports a malformed list as a configuration error naming the entry', () => {
    expect(() => buildCatalog({ bad: { target: 'anthropic/x', api_key_secrets: [] } })).toThrow(/MODELS\["bad"\]\.api_key_secrets/);
  });
});
