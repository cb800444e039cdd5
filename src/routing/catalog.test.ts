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
