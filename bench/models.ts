// The model each case asks the gateway for, as `provider/model` (works whatever
// wrangler.toml's aliases are). No imports: Node runs this file and esbuild bundles it
// into the timing Worker.
export const BENCH_MODELS = {
  openai: 'openai/gpt-4o',
  anthropic: 'anthropic/claude-sonnet-4-6',
  gemini: 'gemini/gemini-2.5-flash',
} as const;

/** The upstream model id: the part after `provider/`. */
export const upstreamModel = (name: keyof typeof BENCH_MODELS) => BENCH_MODELS[name].slice(BENCH_MODELS[name].indexOf('/') + 1);
