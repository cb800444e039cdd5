import { build } from 'esbuild';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyPendingMigrations } from '../../scripts/d1-migrations.mjs';
import { workerBuildOptions } from '../../scripts/worker-build-options.mjs';

// Starts the real Worker in workerd (Miniflare), built from src/ the way wrangler
// builds it, with the compatibility settings from wrangler.toml.

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the checkout (workerd loads no module from outside its starting directory) and
// not in node_modules, which two checkouts may share.
const bundleDir = `${root}.wrangler/tmp/test-bundle`;
export const bundlePath = `${bundleDir}/worker.mjs`;

export async function buildWorkerBundle(): Promise<string> {
  mkdirSync(bundleDir, { recursive: true });
  await build({
    ...workerBuildOptions,
    entryPoints: [`${root}src/index.ts`],
    outfile: bundlePath,
    logLevel: 'error',
  });
  return bundlePath;
}

export function wranglerSettings() {
  const toml = readFileSync(`${root}wrangler.toml`, 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  // [[durable_objects.bindings]] name = "…" class_name = "…" (classes exported by src/index.ts).
  const durableObjects: Record<string, string> = {};
  for (const block of toml.split(/^\[\[durable_objects\.bindings\]\]\s*$/m).slice(1)) {
    const name = /^name\s*=\s*"([^"]+)"/m.exec(block)?.[1];
    const className = /^class_name\s*=\s*"([^"]+)"/m.exec(block)?.[1];
    if (name && className) durableObjects[name] = className;
  }
  const d1Databases: Record<string, string> = {};
  for (const { binding, id } of d1DatabaseBlocks(toml)) d1Databases[binding] = id;
  return {
    compatibilityDate: date ?? '2025-09-01',
    compatibilityFlags: flags ? [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [],
    durableObjects,
    ...(Object.keys(d1Databases).length ? { d1Databases } : {}),
  };
}

/** [[d1_databases]] binding = "…" database_id = "…" migrations_dir = "…" (in memory in tests, migrated at start). */
export function d1DatabaseBlocks(toml = readFileSync(`${root}wrangler.toml`, 'utf8')): { binding: string; id: string; migrationsDir: string }[] {
  return toml
    .split(/^\[\[d1_databases\]\]\s*$/m)
    .slice(1)
    .flatMap((block) => {
      const section = block.split(/^\[/m)[0];
      const binding = /^binding\s*=\s*"([^"]+)"/m.exec(section)?.[1];
      const id = /^database_id\s*=\s*"([^"]+)"/m.exec(section)?.[1];
      const migrationsDir = /^migrations_dir\s*=\s*"([^"]+)"/m.exec(section)?.[1] ?? 'migrations';
      return binding && id ? [{ binding, id, migrationsDir }] : [];
    });
}

export interface Gateway {
  url: string;
  /** Base URL for the openai SDK. */
  baseURL: string;
  mf: Miniflare;
  close(): Promise<void>;
}

export const TEST_GATEWAY_KEY = 'sk-switchboard-test-key';

export interface GatewayOptions {
  /**
   * Receives everything the gateway prints, instead of this process's stdout/stderr:
   * workerd's output (the Worker's console.* included) and Miniflare's own log (one
   * line per request, as `npm start --log-requests` shows). For tests of what a log holds.
   */
  output?: (text: string) => void;
}

/** Miniflare's log, to a function: its `log` is the one method every level goes through. */
class OutputLog extends Log {
  constructor(private readonly output: (text: string) => void) {
    super(LogLevel.DEBUG);
  }
  protected override log(message: string): void {
    this.output(`${message}\n`);
  }
}

function captureOutput(output: (text: string) => void) {
  return {
    log: new OutputLog(output),
    handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
      stdout.on('data', (chunk) => output(String(chunk)));
      stderr.on('data', (chunk) => output(String(chunk)));
    },
  };
}

/**
 * Starts the gateway with these bindings (secrets and vars); GATEWAY_KEYS defaults to
 * TEST_GATEWAY_KEY. ROUTING defaults to no retries, so a test of how one upstream answer
 * is translated sees that answer; tests of the router pass their own ROUTING.
 */
export async function startGateway(bindings: Record<string, unknown>, options: GatewayOptions = {}): Promise<Gateway> {
  const mf = new Miniflare({
    modules: true,
    scriptPath: bundlePath,
    ...wranglerSettings(),
    ...(options.output ? captureOutput(options.output) : {}),
    bindings: { GATEWAY_KEYS: TEST_GATEWAY_KEY, ROUTING: JSON.stringify({ retries: 0 }), ...bindings } as Record<string, string>,
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  // D1 databases declared in wrangler.toml start empty (in memory) and get the schema from their migrations.
  for (const { binding, migrationsDir } of d1DatabaseBlocks()) {
    await applyPendingMigrations(await mf.getD1Database(binding), `${root}${migrationsDir}`);
  }
  return { url, baseURL: `${url}/v1`, mf, close: () => mf.dispose() };
}
