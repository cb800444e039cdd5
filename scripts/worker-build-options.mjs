// How the Worker is bundled for workerd outside wrangler: by `npm start`
// (scripts/serve-local.mjs) and by the tests (test/helpers/gateway.ts), so both run
// the same bundle shape that `wrangler dev` / `wrangler deploy` produce.

/** esbuild options without entryPoints / outfile / logLevel. @type {import('esbuild').BuildOptions} */
export const workerBuildOptions = {
  bundle: true,
  format: 'esm',
  // esbuild's default, as wrangler leaves it: packages' `browser` field maps apply, so the
  // Anthropic SDK takes its fetch-only build rather than importing node: built-ins.
  platform: 'browser',
  target: 'es2022',
  mainFields: ['module', 'main'],
  conditions: ['workerd', 'worker', 'browser'],
  // The runtime's own modules (cloudflare:workers: the Durable Object base class with RPC).
  external: ['cloudflare:*'],
};
