import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import { buildCatalog, catalogFor, type ModelsConfig } from './catalog';

// Model names → deployments: aliases, `provider/model`, options, and configuration
// mistakes reported by name (an operator reads these, not a client).

const config: ModelsConfig = {
  'gpt-4o': { target: 'openai/gpt-4o' },
  fast: { target: 'openai/gpt-4o-mini', note: 'cheap' },
  'azure-gpt-4o': { target: 'azure/gpt-4o-eastus', api_version: '2025-01-01-preview', endpoint: 'https://east.example' },
  'azure-other': { target: 'azure/gpt-4o-eastus', api_version: '2024-10-21' },
};

describe('buildCatalog resolve', () => {
  const catalog = buildCatalog(config);
  const cases: [name: string, expected: object | undefined][] = [
    ['gpt-4o', { name: 'gpt-4o', provider: 'openai', model: 'gpt-4o', options: {} }],
    ['fast', { name: 'fast', provider: 'openai', model: 'gpt-4o-mini', options: { note: 'cheap' } }],
    ['azure-gpt-4o', { name: 'azure-gpt-4o', provider: 'azure', model: 'gpt-4o-eastus', options: { api_version: '2025-01-01-preview', endpoint: 'https://east.example' } }],
    ['azure-other', { name: 'azure-other', provider: 'azure', model: 'gpt-4o-eastus', options: { api_version: '2024-10-21' } }],
    // provider/model names work without an entry and inherit the first matching entry's options
    ['azure/gpt-4o-eastus', { name: 'azure/gpt-4o-eastus', provider: 'azure', model: 'gpt-4o-eastus', options: { api_version: '2025-01-01-preview', endpoint: 'https://east.example' } }],
    ['openai/gpt-4o-mini', { name: 'openai/gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini', options: { note: 'cheap' } }],
    ['openai/o3', { name: 'openai/o3', provider: 'openai', model: 'o3', options: {} }],
    ['azure/new-deployment', { name: 'azure/new-deployment', provider: 'azure', model: 'new-deployment', options: {} }],
    ['openai/ft:gpt-4o:org/custom', { name: 'openai/ft:gpt-4o:org/custom', provider: 'openai', model: 'ft:gpt-4o:org/custom', options: {} }],
    // not a model
    ['unknown-alias', undefined],
    ['mistral/mistral-large', undefined],
    ['OpenAI/gpt-4o', undefined],
    ['openai/', undefined],
    ['/gpt-4o', undefined],
    ['openai', undefined],
    ['', undefined],
    ['__proto__', undefined],
    ['constructor', undefined],
    ['toString', undefined],
  ];
  it.each(cases)('%j', (name, expected) => expect(catalog.resolve(name)).toEqual(expected));

  it('lists configured names in configuration order', () => {
    expect(catalog.entries.map((t) => t.name)).toEqual(['gpt-4o', 'fast', 'azure-gpt-4o', 'azure-other']);
  });

  it('reads the same configuration from a JSON string (wrangler vars as a string)', () => {
    const fromString = buildCatalog(JSON.stringify(config));
    for (const [name] of cases) expect(fromString.resolve(name)).toEqual(catalog.resolve(name));
  });

  it('serves provider/model names with no configuration at all', () => {
    expect(buildCatalog(undefined).resolve('openai/gpt-4o')).toMatchObject({ provider: 'openai', model: 'gpt-4o' });
    expect(buildCatalog(undefined).entries).toEqual([]);
    expect(buildCatalog('{}').entries).toEqual([]);
  });

  it('treats prototype-looking names in configuration as plain names', () => {
    const catalog = buildCatalog('{"__proto__":{"target":"openai/gpt-4o"},"constructor":{"target":"azure/d"}}');
    expect(catalog.resolve('__proto__')).toMatchObject({ provider: 'openai', model: 'gpt-4o' });
    expect(catalog.resolve('constructor')).toMatchObject({ provider: 'azure', model: 'd' });
  });
});

describe('buildCatalog configuration errors', () => {
  const cases: [name: string, input: ModelsConfig | string, mentions: string][] = [
    ['invalid JSON', '{"gpt-4o": {target: "openai/gpt-4o"}}', 'not valid JSON'],
    ['JSON null', 'null', 'MODELS must be a table'],
    ['a JSON array', '[{"target":"openai/gpt-4o"}]', 'MODELS must be a table'],
    ['a JSON string', '"openai/gpt-4o"', 'MODELS must be a table'],
    ['a JSON number', '42', 'MODELS must be a table'],
    ['an entry that is a string', '{"gpt-4o":"openai/gpt-4o"}', 'MODELS["gpt-4o"] must be a table'],
    ['an entry that is null', '{"gpt-4o":null}', 'MODELS["gpt-4o"] must be a table'],
    ['an entry without target', { 'gpt-4o': { api_version: 'x' } as never }, 'MODELS["gpt-4o"].target'],
    ['a target without provider', { 'gpt-4o': { target: 'gpt-4o' } }, 'MODELS["gpt-4o"].target'],
    ['a target of an unknown provider', { llama: { target: 'ollama/llama3' } }, 'MODELS["llama"].target'],
    ['a target without model', { x: { target: 'openai/' } }, 'MODELS["x"].target'],
    ['a target that is not a string', { x: { target: 5 as never } }, 'MODELS["x"].target'],
  ];
  it.each(cases)('%s', (_name, input, mentions) => {
    let error: unknown;
    try {
      buildCatalog(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    const e = error as GatewayError;
    expect({ status: e.status, type: e.type, code: e.code }).toEqual({ status: 500, type: 'server_error', code: 'gateway_misconfigured' });
    expect(e.message).toContain('Gateway configuration error');
    expect(e.message).toContain(mentions);
  });
});

describe('catalogFor', () => {
  it('builds once per configuration object and per configuration string', () => {
    expect(catalogFor(config)).toBe(catalogFor(config));
    const text = JSON.stringify(config);
    expect(catalogFor(text)).toBe(catalogFor(`${text}`));
    expect(catalogFor(undefined)).toBe(catalogFor(undefined));
  });

  it('rebuilds when the configuration changes', () => {
    const a = catalogFor('{"a":{"target":"openai/a"}}');
    const b = catalogFor('{"b":{"target":"openai/b"}}');
    expect(a).not.toBe(b);
    expect(b.resolve('b')).toMatchObject({ model: 'b' });
  });

  it('keeps failing, by name, on a broken configuration', () => {
    expect(() => catalogFor('not json')).toThrow(/MODELS is not valid JSON/);
    expect(() => catalogFor('not json')).toThrow(/MODELS is not valid JSON/);
  });
});

describe('buildCatalog deployments', () => {
  const catalog = buildCatalog({
    'gpt-4o': {
      default_max_tokens: 100,
      retries: 2,
      deployments: [
        { target: 'azure/gpt-4o-eastus', weight: 2, tier: 0, endpoint: 'https://east.example', api_key_secret: 'AZURE_EAST_KEY' },
        { target: 'azure/gpt-4o', name: 'sweden', endpoint: 'https://sweden.example', first_byte_timeout_ms: 5000 },
        { target: 'openai/gpt-4o', tier: 1, default_max_tokens: 200 },
      ],
    },
    single: { target: 'openai/gpt-4o-mini', budget_ms: 5000, note: 'kept' },
  });

  it('maps an alias to its deployments with weights, tiers, labels and options (shared ones inherited)', () => {
    const route = catalog.route('gpt-4o')!;
    expect(route.policy).toEqual({ retries: 2 });
    expect(route.deployments).toEqual([
      {
        label: 'azure/gpt-4o-eastus',
        key: 'azure/gpt-4o-eastus|https://east.example|AZURE_EAST_KEY',
        weight: 2,
        tier: 0,
        target: { name: 'gpt-4o', provider: 'azure', model: 'gpt-4o-eastus', options: { default_max_tokens: 100, endpoint: 'https://east.example', api_key_secret: 'AZURE_EAST_KEY' } },
      },
      {
        label: 'sweden',
        key: 'azure/gpt-4o|https://sweden.example|',
        weight: 1,
        tier: 0,
        firstByteTimeoutMs: 5000,
        target: { name: 'gpt-4o', provider: 'azure', model: 'gpt-4o', options: { default_max_tokens: 100, endpoint: 'https://sweden.example' } },
      },
      { label: 'openai/gpt-4o', key: 'openai/gpt-4o||', weight: 1, tier: 1, target: { name: 'gpt-4o', provider: 'openai', model: 'gpt-4o', options: { default_max_tokens: 200 } } },
    ]);
    expect(catalog.resolve('gpt-4o')).toEqual(route.deployments[0].target);
    expect(catalog.entries.map((t) => t.name)).toEqual(['gpt-4o', 'single']);
  });

  it('keeps the single-target form, routing settings beside it', () => {
    expect(catalog.route('single')).toEqual({
      name: 'single',
      policy: { budgetMs: 5000 },
      deployments: [{ label: 'openai/gpt-4o-mini', key: 'openai/gpt-4o-mini||', weight: 1, tier: 0, target: { name: 'single', provider: 'openai', model: 'gpt-4o-mini', options: { note: 'kept' } } }],
    });
  });

  it('serves a deployment’s provider/model name with its options', () => {
    expect(catalog.route('azure/gpt-4o-eastus')?.deployments).toHaveLength(1);
    expect(catalog.resolve('azure/gpt-4o-eastus')?.options).toMatchObject({ endpoint: 'https://east.example' });
  });

  const bad: [string, ModelsConfig, string][] = [
    ['both target and deployments', { x: { target: 'openai/a', deployments: [{ target: 'openai/b' }] } }, 'MODELS["x"] has both target and deployments'],
    ['empty deployments', { x: { deployments: [] } }, 'MODELS["x"].deployments must be a non-empty list'],
    ['deployments not a list', { x: { deployments: { target: 'openai/a' } as never } }, 'MODELS["x"].deployments must be a non-empty list'],
    ['a deployment that is not a table', { x: { deployments: ['openai/a' as never] } }, 'MODELS["x"].deployments[0] must be a table'],
    ['a bad target', { x: { deployments: [{ target: 'openai/a' }, { target: 'nope' }] } }, 'MODELS["x"].deployments[1].target'],
    ['a zero weight', { x: { deployments: [{ target: 'openai/a', weight: 0 }] } }, 'MODELS["x"].deployments[0].weight must be a number > 0'],
    ['a fractional tier', { x: { deployments: [{ target: 'openai/a', tier: 0.5 }] } }, 'MODELS["x"].deployments[0].tier must be an integer'],
    ['duplicate labels', { x: { deployments: [{ target: 'openai/a' }, { target: 'openai/a' }] } }, 'two deployments named "openai/a"'],
    ['a bad routing setting', { x: { target: 'openai/a', retries: -2 } }, 'MODELS["x"].retries must be a number'],
    ['a bad first-byte timeout', { x: { deployments: [{ target: 'openai/a', first_byte_timeout_ms: 0 }] } }, 'first_byte_timeout_ms must be a number > 0'],
  ];
  it.each(bad)('%s → a named configuration error', (_name, input, mentions) => {
    expect(() => buildCatalog(input)).toThrow(mentions);
    try {
      buildCatalog(input);
    } catch (e) {
      expect((e as GatewayError).code).toBe('gateway_misconfigured');
    }
  });
});
