import { describe, expect, it } from 'vitest';
import { cost, parsePrices, priceFor, type Price } from './prices';

describe('cost', () => {
  const price: Price = { input: 2.5, output: 10, cached_input: 1.25 };
  const cases: [name: string, usage: Parameters<typeof cost>[0], p: Price, usd: number][] = [
    ['nothing used', { prompt_tokens: 0, completion_tokens: 0 }, price, 0],
    ['a million in, a million out', { prompt_tokens: 1e6, completion_tokens: 1e6 }, price, 12.5],
    ['a small request', { prompt_tokens: 1000, completion_tokens: 200 }, price, 0.0045],
    ['cached tokens are part of the prompt, at the cached price', { prompt_tokens: 1000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 400 } }, price, 0.002],
    ['no cached price: cached tokens at the input price', { prompt_tokens: 1000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 400 } }, { input: 2.5, output: 10 }, 0.0025],
    ['more cached than prompt (a bad upstream count) is capped', { prompt_tokens: 10, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 50 } }, price, 0.0000125],
    ['a free model', { prompt_tokens: 5000, completion_tokens: 5000 }, { input: 0, output: 0 }, 0],
    ['rounded to nano-dollars', { prompt_tokens: 1, completion_tokens: 1 }, { input: 0.15, output: 0.6 }, 0.00000075],
  ];
  it.each(cases)('%s', (_name, usage, p, usd) => expect(cost(usage, p)).toBeCloseTo(usd, 12));
});

describe('priceFor', () => {
  const overrides = parsePrices({ 'gpt-4o': { input: 1, output: 2 }, 'onprem/qwen-*': { input: 0, output: 0 }, 'azure/*': { input: 3, output: 4 } }).table;
  const cases: [name: string, provider: string, model: string, expected: Price | null][] = [
    ['gpt-4o', 'openai', 'gpt-4o', { input: 2.5, output: 10, cached_input: 1.25 }],
    ['a dated gpt-4o', 'openai', 'gpt-4o-2024-11-20', { input: 2.5, output: 10, cached_input: 1.25 }],
    ['gpt-4o-mini is not gpt-4o', 'openai', 'gpt-4o-mini', { input: 0.15, output: 0.6, cached_input: 0.075 }],
    ['gpt-4.1-mini', 'openai', 'gpt-4.1-mini-2025-04-14', { input: 0.4, output: 1.6, cached_input: 0.1 }],
    ['o3-mini before o3', 'openai', 'o3-mini', { input: 1.1, output: 4.4, cached_input: 0.55 }],
    ['o4-mini', 'openai', 'o4-mini', { input: 1.1, output: 4.4, cached_input: 0.275 }],
    ['claude sonnet 4.6', 'anthropic', 'claude-sonnet-4-6', { input: 3, output: 15, cached_input: 0.3 }],
    ['claude haiku 4.5', 'anthropic', 'claude-haiku-4-5', { input: 1, output: 5, cached_input: 0.1 }],
    ['claude opus 4.1', 'anthropic', 'claude-opus-4-1', { input: 15, output: 75, cached_input: 1.5 }],
    ['claude opus 4.5', 'anthropic', 'claude-opus-4-5-20251101', { input: 5, output: 25, cached_input: 0.5 }],
    ['gemini 2.5 flash-lite before flash', 'gemini', 'gemini-2.5-flash-lite', { input: 0.1, output: 0.4, cached_input: 0.01 }],
    ['gemini 2.5 pro', 'gemini', 'gemini-2.5-pro', { input: 1.25, output: 10, cached_input: 0.125 }],
    ['unknown model', 'onprem', 'llama-3-70b', null],
  ];
  it.each(cases)('%s', (_name, provider, model, expected) => expect(priceFor(provider, model)).toEqual(expected));

  const withOverrides: [name: string, provider: string, model: string, expected: Price | null][] = [
    ['an override by model id wins over the default', 'openai', 'gpt-4o', { input: 1, output: 2 }],
    ['an override by provider/model pattern', 'onprem', 'qwen-2.5-7b', { input: 0, output: 0 }],
    ['a provider-wide override', 'azure', 'gpt-4o-mini', { input: 3, output: 4 }],
    ['other models keep the defaults', 'openai', 'gpt-4o-mini', { input: 0.15, output: 0.6, cached_input: 0.075 }],
  ];
  it.each(withOverrides)('%s', (_name, provider, model, expected) => expect(priceFor(provider, model, overrides)).toEqual(expected));
});

describe('parsePrices', () => {
  const cases: [name: string, value: unknown, table: unknown, problems: string[]][] = [
    ['absent', undefined, [], []],
    ['a TOML table', { 'gpt-4o': { input: 1, output: 2, cached_input: 0.5 } }, [['gpt-4o', { input: 1, output: 2, cached_input: 0.5 }]], []],
    ['the same as JSON', '{"gpt-4o":{"input":1,"output":2}}', [['gpt-4o', { input: 1, output: 2 }]], []],
    ['not JSON', '{gpt', [], ['PRICES is not valid JSON']],
    ['an array', '[]', [], ['PRICES must be a table of model → { input, output, cached_input? }']],
    [
      'a bad entry is skipped, the good ones kept',
      { a: { input: -1, output: 2 }, b: { input: 1 }, c: { input: 1, output: 1 }, d: 'cheap' },
      [['c', { input: 1, output: 1 }]],
      [
        'PRICES.a must be { input, output, cached_input? } in USD per million tokens',
        'PRICES.b must be { input, output, cached_input? } in USD per million tokens',
        'PRICES.d must be { input, output, cached_input? } in USD per million tokens',
      ],
    ],
  ];
  it.each(cases)('%s', (_name, value, table, problems) => expect(parsePrices(value)).toEqual({ table, problems }));
});
