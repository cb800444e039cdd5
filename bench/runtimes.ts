import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { workerBuildOptions } from '../scripts/worker-build-options.mjs';
import { applyPendingMigrations } from '../scripts/d1-migrations.mjs';

// The two local runtimes compared: `wrangler dev` (what `npm start` runs today) and
// Miniflare driven directly on the same configuration (wrangler.toml + .dev.vars,
// read by wrangler's own unstable_getMiniflareWorkerOptions), without wrangler's
// dev proxy. Each worker gets a generated config in a temporary directory, so the
// repository's .dev.vars and .wrangler state are never touched.

export const root = new URL('..', import.meta.url).pathname;

export interface WorkerSpec {
  /** Short name: 'floor' or 'gateway'. */
  name: string;
  /** Entry module, absolute path. */
  main: string;
  /** The wrangler.toml text; its `main`, if any, gives way to the entry above. */
  toml: string;
  /** Secrets, written to the config directory's .dev.vars. */
  devVars: Record<string, string>;
  /** Apply the D1 migrations first (the gateway: its usage table, so requests are metered as after `npm start`). */
  migrate?: boolean;
  /** Miniflare only: open V8's inspector on this port (bench/cpu-profile.ts). */
  inspectorPort?: number;
}

export interface RunningWorker {
  runtime: 'wrangler' | 'miniflare';
  worker: string;
  url: string;
  /** Process ids whose memory belongs to this worker's runtime (workerd, and wrangler's node). */
  pids(): { workerd: number[]; node: number[] };
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Writes wrangler.toml and .dev.vars into `dir`; returns the config path. */
export function writeConfig(dir: string, spec: WorkerSpec): string {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'wrangler.toml');
  // The entry is the spec's (another checkout's src/ in an A/B), whatever the toml names: wrangler runs `main`.
  writeFileSync(configPath, `main = ${JSON.stringify(spec.main)}\n${spec.toml.replace(/^main\s*=.*\n?/m, '')}`);
  writeFileSync(join(dir, '.dev.vars'), Object.entries(spec.devVars).map(([k, v]) => `${k}=${v}\n`).join(''));
  return configPath;
}

/** The repository's wrangler.toml (vars, model routes, compatibility settings), its migrations directory made absolute. */
export function gatewayToml(): string {
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  return toml
    .replace(/^migrations_dir\s*=\s*"([^"]+)"/gm, (_, dir: string) => `migrations_dir = ${JSON.stringify(join(root, dir))}`);
}

/** The D1 databases a wrangler.toml declares: binding, database_name, migrations_dir. */
function d1Databases(toml: string): { binding: string; name: string; migrationsDir: string }[] {
  return toml
    .split(/^\[\[d1_databases\]\]\s*$/m)
    .slice(1)
    .map((block) => ({
      binding: /^binding\s*=\s*"([^"]+)"/m.exec(block)?.[1] ?? '',
      name: /^database_name\s*=\s*"([^"]+)"/m.exec(block)?.[1] ?? '',
      migrationsDir: /^migrations_dir\s*=\s*"([^"]+)"/m.exec(block)?.[1] ?? 'migrations',
    }))
    .filter((d) => d.binding && d.name);
}

/** The gateway's compatibility settings (wrangler.toml), for the workers that must run as it does. */
export function compatibility(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  return {
    compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? '2025-09-01',
    compatibilityFlags: flags ? [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [],
  };
}

export function floorToml(): string {
  const { compatibilityDate, compatibilityFlags } = compatibility();
  return [
    'name = "switchboard-bench-floor"',
    `compatibility_date = "${compatibilityDate}"`,
    `compatibility_flags = ${JSON.stringify(compatibilityFlags)}`,
    '',
  ].join('\n');
}

async function waitReady(url: string, child: ChildProcess | undefined, output: () => string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output()}`);
    try {
      const response = await fetch(`${url}/health`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become ready in ${timeoutMs / 1000} s:\n${output()}`);
}

export async function startWranglerDev(dir: string, spec: WorkerSpec): Promise<RunningWorker> {
  const configPath = writeConfig(dir, spec);
  for (const db of spec.migrate ? d1Databases(spec.toml) : []) {
    const applied = spawnSync(
      process.execPath,
      [join(root, 'node_modules/wrangler/bin/wrangler.js'), 'd1', 'migrations', 'apply', db.name, '--local', '--config', configPath, '--persist-to', join(dir, 'state')],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG_PATH: join(dir, 'logs'), CI: 'true' } },
    );
    if (applied.status !== 0) throw new Error(`wrangler d1 migrations apply ${db.name} failed:\n${(applied.stdout + applied.stderr).slice(-2000)}`);
  }
  const port = await freePort();
  const inspectorPort = await freePort();
  let output = '';
  const child = spawn(
    process.execPath,
    [
      join(root, 'node_modules/wrangler/bin/wrangler.js'),
      'dev',
      '--config', configPath,
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--inspector-port', String(inspectorPort),
      '--persist-to', join(dir, 'state'),
      '--show-interactive-dev-session=false',
      '--log-level', 'warn',
    ],
    {
      cwd: dir,
      // Its own process group, so the whole tree (wrangler → node → workerd) is stopped together.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG_PATH: join(dir, 'logs') },
    },
  );
  // If this process dies without cleaning up, the detached wrangler tree must not outlive it.
  const killOnExit = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  child.stdout!.on('data', (d) => (output = (output + d).slice(-8000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-8000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitReady(url, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    runtime: 'wrangler',
    worker: spec.name,
    url,
    pids: () => {
      const tree = descendants(child.pid!);
      return { workerd: tree.filter((p) => comm(p) === 'workerd'), node: [child.pid!, ...tree.filter((p) => comm(p) === 'node')] };
    },
    close: stop,
  };
}

/** Bundles a worker entry for Miniflare as `npm start` and the tests do. */
export async function bundleWorker(entry: string, outfile: string): Promise<string> {
  await build({
    ...workerBuildOptions,
    entryPoints: [entry],
    outfile,
    logLevel: 'silent', // errors are thrown, with their messages, to the caller
  });
  return outfile;
}

export async function startMiniflare(dir: string, spec: WorkerSpec): Promise<RunningWorker> {
  const configPath = writeConfig(dir, spec);
  // Inside the config directory: workerd refuses module paths outside its root (the config's directory).
  const scriptPath = await bundleWorker(spec.main, join(dir, `${spec.name}.mjs`));
  const { workerOptions } = quietly(() => unstable_getMiniflareWorkerOptions(configPath));
  const before = new Set(descendants(process.pid));
  const port = await freePort();
  const mf = new Miniflare({ ...(workerOptions as object), modules: true, modulesRoot: dir, scriptPath, host: '127.0.0.1', port, ...(spec.inspectorPort ? { inspectorPort: spec.inspectorPort } : {}) });
  let url: string;
  try {
    url = (await mf.ready).toString().replace(/\/$/, '');
    for (const db of spec.migrate ? d1Databases(spec.toml) : []) await applyPendingMigrations(await mf.getD1Database(db.binding), db.migrationsDir);
    await waitReady(url, undefined, () => '');
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }
  const own = descendants(process.pid).filter((p) => !before.has(p));
  return {
    runtime: 'miniflare',
    worker: spec.name,
    url,
    pids: () => ({ workerd: own.filter((p) => comm(p) === 'workerd'), node: [] }),
    close: () => mf.dispose(),
  };
}

/** Runs fn with wrangler's logger at "warn" (its "Using secrets defined in …" line would land in the report). */
function quietly<T>(fn: () => T): T {
  const saved = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'warn';
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = saved;
  }
}

// --- process memory, from /proc ----------------------------------------------------

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    for (const child of children.get(stack.pop()!) ?? []) {
      out.push(child);
      stack.push(child);
    }
  }
  return out;
}

/**
 * CPU time (user + system) these processes have used, in µs (from /proc; clock ticks of
 * 10 ms). Unlike wall-clock times, it hardly moves with the load other processes put on
 * the machine: the measure to compare gateway and floor by on a busy machine.
 */
export function cpuMicros(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return ticks * 10_000;
}

/** Resident set size of these processes together, in MiB (0 when none can be read). */
export function rssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) kib += Number(match[1]);
    } catch {
      // exited
    }
  }
  return kib / 1024;
}
