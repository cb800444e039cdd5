import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const engineBinDir = join(root, 'test/engines/bin');
export const vllmBin = join(engineBinDir, 'vllm');
export const lmdeployBin = join(engineBinDir, 'lmdeploy');
export const agentBin = join(root, 'local-agent/bin/switchboard-agent.js');

export const tempDir = (prefix = 'agent-test-') => mkdtempSync(join(tmpdir(), prefix));

/** The first `node` on PATH outside node_modules (the system's, Node 20 here), else this one: the agent must run on Node 20. */
export function agentNode(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir || dir.includes('node_modules')) continue;
    try {
      const path = join(dir, 'node');
      execFileSync(path, ['--version']);
      return path;
    } catch {
      // not here
    }
  }
  return process.execPath;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with `count` free consecutive ports after it. */
/**
 * A run of `count` free ports for engines to bind, below the kernel's ephemeral range
 * (32768–60999 on Linux): a port there can be taken by any outgoing connection between
 * this check and the engine's bind, which is how a test once lost a replica to EADDRINUSE.
 */
export async function freePorts(count: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function mockStats(port: number): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/mock/stats`);
  return res.json();
}

/** Fast supervision settings so tests take milliseconds, not minutes. */
export const fastTimings = {
  stop_grace: '300ms',
  ready_poll: '20ms',
  health: { interval: '100ms', timeout: '500ms', failures: 2 },
  restart: { initial_backoff: '50ms', max_backoff: '200ms', stable_after: '10s', crash_loop_restarts: 2 },
};

/**
 * A real agent process (`switchboard-agent start`) with this agent.yaml content, the mock
 * engines first on PATH, and `env` added (e.g. SWITCHBOARD_AGENT_TOKEN). Its output
 * gathers in `log.text`.
 */
export function spawnAgent(config: object, env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; configPath: string; log: { text: string } } {
  const configPath = join(tempDir(), 'agent.yaml');
  writeFileSync(configPath, stringify(config));
  const proc = spawn(agentNode(), [agentBin, 'start', '--config', configPath], {
    env: { ...process.env, PATH: `${engineBinDir}:${process.env.PATH}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = { text: '' };
  proc.stdout!.on('data', (c) => (log.text += c));
  proc.stderr!.on('data', (c) => (log.text += c));
  return { proc, configPath, log };
}

/** SIGTERM to an agent (it stops its engines' process groups) and its exit. */
export async function stopAgent(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}
