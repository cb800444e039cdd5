import { modelMatches } from '../auth/model-patterns';
import type { Usage } from '../openai/types';

// What a response cost, from its token usage and a price table in USD per million tokens.
// The defaults are the providers' published list prices as of 2026 (standard tier, short
// prompts: Gemini 2.5 Pro charges more above 200k prompt tokens, which these do not model);
// they are overridable per model in configuration: wrangler.toml `[vars.PRICES]`, e.g.
//   "gpt-4o" = { input = 2.5, output = 10, cached_input = 1.25 }
//   "qwen-*" = { input = 0, output = 0 }
// Keys are provider model ids (the model a deployment calls), or `provider/model`, with
// `*` patterns as for key models. Overrides are checked before the defaults.

export interface Price {
  /** USD per million prompt tokens that were not read from a cache. */
  input: number;
  output: number;
  /** USD per million prompt tokens read from a cache; defaults to `input`. */
  cached_input?: number;
}

/** Most specific first: the first matching pattern wins. */
export const DEFAULT_PRICES: [pattern: string, price: Price][] = [
  // OpenAI (platform.openai.com/docs/pricing)
  ['gpt-4o-mini*', { input: 0.15, output: 0.6, cached_input: 0.075 }],
  ['gpt-4o-2024-05-13', { input: 5, output: 15 }],
  ['gpt-4o*', { input: 2.5, output: 10, cached_input: 1.25 }],
  ['chatgpt-4o*', { input: 5, output: 15 }],
  ['gpt-4.1-nano*', { input: 0.1, output: 0.4, cached_input: 0.025 }],
  ['gpt-4.1-mini*', { input: 0.4, output: 1.6, cached_input: 0.1 }],
  ['gpt-4.1*', { input: 2, output: 8, cached_input: 0.5 }],
  ['gpt-5-nano*', { input: 0.05, output: 0.4, cached_input: 0.005 }],
  ['gpt-5-mini*', { input: 0.25, output: 2, cached_input: 0.025 }],
  ['gpt-5*', { input: 1.25, output: 10, cached_input: 0.125 }],
  ['o1-mini*', { input: 1.1, output: 4.4, cached_input: 0.55 }],
  ['o1*', { input: 15, output: 60, cached_input: 7.5 }],
  ['o3-mini*', { input: 1.1, output: 4.4, cached_input: 0.55 }],
  ['o3-pro*', { input: 20, output: 80 }],
  ['o3*', { input: 2, output: 8, cached_input: 0.5 }],
  ['o4-mini*', { input: 1.1, output: 4.4, cached_input: 0.275 }],
  ['gpt-4-turbo*', { input: 10, output: 30 }],
  ['gpt-3.5-turbo*', { input: 0.5, output: 1.5 }],
  // Anthropic (docs.anthropic.com pricing; cached_input = cache reads)
  ['claude-opus-4-5*', { input: 5, output: 25, cached_input: 0.5 }],
  ['claude-opus-4-6*', { input: 5, output: 25, cached_input: 0.5 }],
  ['claude-opus-4*', { input: 15, output: 75, cached_input: 1.5 }],
  ['claude-sonnet-4*', { input: 3, output: 15, cached_input: 0.3 }],
  ['claude-haiku-4*', { input: 1, output: 5, cached_input: 0.1 }],
  ['claude-3-7-sonnet*', { input: 3, output: 15, cached_input: 0.3 }],
  ['claude-3-5-sonnet*', { input: 3, output: 15, cached_input: 0.3 }],
  ['claude-3-5-haiku*', { input: 0.8, output: 4, cached_input: 0.08 }],
  ['claude-3-haiku*', { input: 0.25, output: 1.25, cached_input: 0.03 }],
  // Google (ai.google.dev/gemini-api/docs/pricing; prompts up to 200k tokens)
  ['gemini-2.5-pro*', { input: 1.25, output: 10, cached_input: 0.125 }],
  ['gemini-2.5-flash-lite*', { input: 0.1, output: 0.4, cached_input: 0.01 }],
  ['gemini-2.5-flash*', { input: 0.3, output: 2.5, cached_input: 0.03 }],
  ['gemini-2.0-flash-lite*', { input: 0.075, output: 0.3 }],
  ['gemini-2.0-flash*', { input: 0.1, output: 0.4, cached_input: 0.025 }],
];

export type PriceTable = [pattern: string, price: Price][];

/** The price of a provider model: overrides first (by `provider/model` or model), then the defaults; null = unknown. */
export function priceFor(provider: string, model: string, overrides: PriceTable = NO_OVERRIDES): Price | null {
  const qualified = `${provider}/${model}`;
  // Every request asks for one of a few models: each is matched against the patterns once per table.
  let known = lookedUp.get(overrides);
  if (!known) lookedUp.set(overrides, (known = new Map()));
  const cached = known.get(qualified);
  if (cached !== undefined) return cached;
  const price = matchPrice(qualified, model, overrides);
  if (known.size < 1000) known.set(qualified, price);
  return price;
}

const NO_OVERRIDES: PriceTable = [];
const lookedUp = new WeakMap<PriceTable, Map<string, Price | null>>();

function matchPrice(qualified: string, model: string, overrides: PriceTable): Price | null {
  for (const [pattern, price] of overrides) if (modelMatches(pattern, qualified) || modelMatches(pattern, model)) return price;
  for (const [pattern, price] of DEFAULT_PRICES) if (modelMatches(pattern, model)) return price;
  return null;
}

/** USD for this usage at this price. Cached prompt tokens are part of prompt_tokens (as OpenAI counts them). */
export function cost(usage: Pick<Usage, 'prompt_tokens' | 'completion_tokens' | 'prompt_tokens_details'>, price: Price): number {
  const cached = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, usage.prompt_tokens);
  const usd = ((usage.prompt_tokens - cached) * price.input + cached * (price.cached_input ?? price.input) + usage.completion_tokens * price.output) / 1e6;
  // Whole nano-dollars: sums of many small costs stay exact enough and print cleanly.
  return Math.round(usd * 1e9) / 1e9;
}

const isPrice = (v: unknown): v is Price => {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  return ok(p.input) && ok(p.output) && (p.cached_input === undefined || ok(p.cached_input));
};

/**
 * The PRICES variable (a TOML table or the same as a JSON string) as a table; entries
 * that are not a price are skipped and named in `problems` (logged once), never a crash.
 */
export function parsePrices(value: unknown): { table: PriceTable; problems: string[] } {
  if (value === undefined || value === null || value === '') return { table: [], problems: [] };
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return { table: [], problems: ['PRICES is not valid JSON'] };
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { table: [], problems: ['PRICES must be a table of model → { input, output, cached_input? }'] };
  const table: PriceTable = [];
  const problems: string[] = [];
  for (const [model, price] of Object.entries(parsed)) {
    if (isPrice(price)) table.push([model, { input: price.input, output: price.output, ...(price.cached_input !== undefined ? { cached_input: price.cached_input } : {}) }]);
    else problems.push(`PRICES.${model} must be { input, output, cached_input? } in USD per million tokens`);
  }
  return { table, problems };
}
