// `npm start`: the gateway in workerd through Miniflare, without `wrangler dev`'s proxy
// in front (measured ~4× the throughput and ~4 ms less per request on a 2-core machine;
// `npm run bench`). Configured as `wrangler dev` configures it: wrangler itself reads
// wrangler.toml ([vars], [vars.MODELS], compatibility settings) and the secrets file, and
// the bundle is built like the tests' (scripts/worker-build-options.mjs). Rebuilds and
// reloads on changes under src/, wrangler.toml and the secrets file.
//
//   node scripts/serve-local.mjs [--port 8787] [--ip 127.0.0.1] [--secrets-file .dev.vars]
//                                [--persist-to .wrangler/state] [--log-requests]
//   (PORT and HOST work too; the flags win. --port 0 takes any free port.)

import { existsSync, mkdirSync, rmSync, watch } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { context } from 'esbuild';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import { applyPendingMigrations } from './d1-migrations.mjs';
import { workerBuildOptions } from './worker-build-options.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const configPath = join(root, 'wrangler.toml');
// One directory per process, as wrangler dev does, so two servers never rewrite each other's bundle.
const outDir = join(root, `.wrangler/tmp/serve-local-${process.pid}`);
const scriptPath = join(outDir, 'worker.mjs');

const say = (message) => console.log(`[serve-local] ${message}`);
const fail = (message) => {
  console.error(`serve-local: ${message}`);
  process.exit(1);
};

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      ip: { type: 'string' },
      'secrets-file': { type: 'string' },
      'persist-to': { type: 'string' },
      'log-requests': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail(`${error.message} (see --help)`);
}
if (args.help) {
  console.log('usage: node scripts/serve-local.mjs [--port N] [--ip ADDRESS] [--secrets-file PATH] [--persist-to DIR] [--log-requests]');
  process.exit(0);
}

const host = args.ip ?? process.env.HOST ?? '127.0.0.1';
const portText = args.port ?? process.env.PORT ?? '8787';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid port "${portText}"`);

// Without --secrets-file wrangler reads .dev.vars beside wrangler.toml; with it, that
// file instead (wrangler dev calls this --env-file, a name Node 20/22 intercept even
// after a script's name: nodejs/node#54232). wrangler would carry on without either,
// and the gateway would then reject every key: say so now instead.
const envFile = args['secrets-file'] ? resolve(args['secrets-file']) : join(root, '.dev.vars');
if (!existsSync(envFile)) {
  fail(
    args['secrets-file']
      ? `secrets file ${envFile} not found`
      : `${envFile} not found: copy .dev.vars.example to .dev.vars (npm start does it), or pass --secrets-file <path>`,
  );
}
const envFileName = relative(process.cwd(), envFile).startsWith('..') ? envFile : relative(process.cwd(), envFile);

/** What wrangler derives from wrangler.toml and the secrets file, read afresh on every config reload. */
function loadWorkerConfig() {
  return quietly(() => {
    const config = unstable_readConfig({ config: configPath });
    const { workerOptions, define } = unstable_getMiniflareWorkerOptions(
      config,
      undefined,
      args['secrets-file'] ? { envFiles: [envFile] } : undefined,
    );
    return { config, workerOptions, define };
  });
}

let loaded;
try {
  loaded = loadWorkerConfig();
} catch (error) {
  fail(`cannot read ${relative(process.cwd(), configPath)}: ${error.message}`);
}

const persistTo = args['persist-to'] ? resolve(args['persist-to']) : join(root, '.wrangler/state');

let boundPort = port; // 0 means "any free port": keep the one first given across reloads
function miniflareOptions() {
  return {
    ...loaded.workerOptions,
    name: loaded.config.name,
    modules: true,
    // workerd only loads modules below modulesRoot.
    modulesRoot: outDir,
    scriptPath,
    host,
    port: boundPort,
    // Where `wrangler dev` keeps local state (KV, D1, Durable Objects, cache), so both share it;
    // --persist-to DIR means DIR/v3, as it does for wrangler dev.
    defaultPersistRoot: join(persistTo, 'v3'),
    // The Request.cf placeholder fetched at start (or its fallback), reused so reloads don't fetch it again.
    ...(cf ? { cf } : {}),
    log: new Log(LogLevel.INFO),
    // Per-request log lines cost a loopback call into Node for each request: opt in.
    logRequests: args['log-requests'],
  };
}

let mf;
let url;
let cf;
let reloading = Promise.resolve();
/** Applies the current bundle and configuration; reloads run one after another. */
function reload(what) {
  reloading = reloading.then(async () => {
    const started = performance.now();
    try {
      await mf.setOptions(miniflareOptions());
      say(`${what} → reloaded in ${Math.round(performance.now() - started)} ms`);
    } catch (error) {
      console.error(`[serve-local] reload failed, the previous worker may be gone: ${error.message}`);
    }
  });
  return reloading;
}

async function startMiniflare() {
  mf = new Miniflare(miniflareOptions());
  try {
    url = (await mf.ready).toString().replace(/\/$/, '');
  } catch (error) {
    await mf.dispose().catch(() => {});
    fail(`cannot start on ${host}:${port}: ${error.code ?? ''} ${error.message}`.replace(/\s+/g, ' '));
  }
  boundPort = Number(new URL(url).port);
  cf = await mf.getCf().catch(() => undefined);
  await migrateLocalDatabases();
  printConfiguration();
  say(`Switchboard gateway on ${url} (workerd via Miniflare, compatibility_date ${loaded.workerOptions.compatibilityDate})`);
}

/**
 * Applies the migrations the local D1 databases have not had (what `wrangler d1 migrations
 * apply --local` would do, recorded the same way), so keys and usage work from the first
 * `npm start`. A failure is reported and the gateway still starts.
 */
async function migrateLocalDatabases() {
  for (const { binding, migrations_dir: dir = 'migrations', migrations_table: table } of loaded.config.d1_databases ?? []) {
    try {
      const applied = await applyPendingMigrations(await mf.getD1Database(binding), resolve(root, dir), table);
      if (applied.length) say(`D1 ${binding}: applied migrations ${applied.join(', ')}`);
    } catch (error) {
      console.error(`[serve-local] D1 ${binding}: applying ${dir}/ failed: ${error.message}`);
    }
  }
}

function printConfiguration() {
  const bindings = loaded.workerOptions.bindings ?? {};
  let models = bindings.MODELS ?? {};
  if (typeof models === 'string') {
    try {
      models = JSON.parse(models);
    } catch {
      models = {};
    }
  }
  const names = Object.keys(models);
  const width = Math.max(0, ...names.map((n) => n.length));
  say(names.length ? 'models (wrangler.toml [vars.MODELS]):' : 'no [vars.MODELS] in wrangler.toml; use provider/model names');
  for (const name of names) say(`  ${name.padEnd(width)}  → ${models[name]?.target ?? JSON.stringify(models[name])}`);
  // Names only, never values; an empty value is as good as unset for the gateway.
  const secrets = Object.keys(bindings).filter((k) => !(k in (loaded.config.vars ?? {})));
  const set = secrets.filter((k) => bindings[k] !== '');
  const empty = secrets.filter((k) => bindings[k] === '');
  say(`secrets from ${envFileName}: ${set.join(', ') || 'none'}${empty.length ? ` (empty: ${empty.join(', ')})` : ''}`);
  if (!set.includes('GATEWAY_KEYS')) say(`GATEWAY_KEYS is not set in ${envFileName}: only keys created through the admin API (D1) will be accepted`);
}

/** Runs fn with wrangler's logger at "warn": its "Using secrets defined in …" line is replaced by ours. */
function quietly(fn) {
  const saved = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'warn';
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = saved;
  }
}

// Registered before Miniflare registers its own (which would exit first, with 130/143):
// exiting runs Miniflare's exit hook, which stops workerd and removes its temporary files,
// and esbuild's service process ends with its parent.
let watchers = [];
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    say(`${signal}: stopping`);
    for (const w of watchers) w.close();
    process.exit(0);
  });
}

// --- build, then watch -------------------------------------------------------------

mkdirSync(outDir, { recursive: true });
process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));
const entry = resolve(root, loaded.config.main ?? 'src/index.ts');
let firstBuildDone;
const firstBuild = new Promise((r) => (firstBuildDone = r));
const builder = await context({
  ...workerBuildOptions,
  entryPoints: [entry],
  outfile: scriptPath,
  define: loaded.define ?? {},
  logLevel: 'warning', // esbuild prints build errors and warnings itself, on every rebuild too
  plugins: [
    {
      name: 'serve-local-reload',
      setup(build) {
        build.onEnd(async (result) => {
          if (result.errors.length) {
            if (!mf) say('build failed; waiting for a fix under src/ …');
            return;
          }
          if (!mf) {
            await startMiniflare();
            firstBuildDone();
          } else {
            await reload('src changed');
          }
        });
      },
    },
  ],
});
// esbuild's watch follows exactly the files the bundle was built from (src/ and the packages it imports).
await builder.watch();
await firstBuild;

// wrangler.toml and the secrets file are not in the bundle: watch their directories (editors
// replace files on save, which a watch on the file itself would lose).
const configFiles = new Map([
  [configPath, 'wrangler.toml'],
  [envFile, envFileName],
]);
let configTimer;
watchers = [...new Set([...configFiles.keys()].map(dirname))].map((dir) =>
  watch(dir, (_event, filename) => {
    const changed = filename && configFiles.get(join(dir, filename.toString()));
    if (!changed) return;
    clearTimeout(configTimer);
    configTimer = setTimeout(() => {
      try {
        loaded = loadWorkerConfig();
      } catch (error) {
        console.error(`[serve-local] ${changed} not applied: ${error.message}`);
        return;
      }
      void reload(`${basename(changed)} changed`).then(printConfiguration);
    }, 100);
  }),
);
