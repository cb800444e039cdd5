// Supervises engine replicas: start (own process group, CUDA_VISIBLE_DEVICES, log
// file), readiness, health checks, restart with exponential backoff, crash-loop and
// start-up failure reports with the log's last lines, and stop without leftovers.

import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ENGINES, replicaCommand } from './engines.js';
import { tailLines } from './log-tail.js';
import { killGroupNow, terminateGroup } from './process-group.js';

/** Restart delay after the n-th consecutive failure (n ≥ 1): doubles from `initial`, capped at `max`. */
export function backoffDelay(n, initialMs, maxMs) {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, n - 1));
}

/**
 * States: starting → ready ⇄ (unhealthy → backoff → starting) …; failed (start-up error,
 * not retried), crash-loop (too many consecutive failures), stopping → stopped.
 */
export class Replica extends EventEmitter {
  /**
   * @param {import('./plan.js').ReplicaPlan} plan
   * @param {object} options
   * @param {string} options.logDir
   * @param {import('./config.js').AgentConfig['restart']} options.restart
   * @param {import('./config.js').AgentConfig['health']} options.health
   * @param {number} options.stopGraceMs
   * @param {number} options.readyPollMs
   * @param {(line: string) => void} options.log
   * @param {NodeJS.ProcessEnv} [options.env]
   */
  constructor(plan, options) {
    super();
    this.plan = plan;
    this.model = plan.model;
    this.id = plan.id;
    this.port = plan.port;
    this.host = plan.model.host;
    this.options = options;
    this.engine = ENGINES[plan.model.engine];
    this.logPath = join(options.logDir, `${plan.model.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${plan.index}.log`);
    this.state = 'pending';
    this.inFlight = 0;
    this.pid = null;
    this.launches = 0;
    this.restarts = 0;
    this.everReady = false;
    this.consecutiveFailures = 0;
    this.startedAt = null;
    this.readyAt = null;
    this.nextStartAt = null;
    /** @type {{message: string, at: number, logTail: string[]}|null} */
    this.lastError = null;
    this.generation = 0;
    this.timers = new Set();
    this.exited = null; // resolves when the current process has exited
  }

  get ready() {
    return this.state === 'ready';
  }

  start() {
    mkdirSync(this.options.logDir, { recursive: true });
    void this.launch();
  }

  async launch() {
    const generation = ++this.generation;
    this.launches++;
    this.startedAt = Date.now();
    this.readyAt = null;
    this.nextStartAt = null;
    this.setState('starting');

    if (this.engine.launches) {
      if (!(await portIsFree(this.host, this.port))) {
        if (generation !== this.generation) return;
        this.fail(`port ${this.port} is already in use by another process`, { startup: true });
        return;
      }
      if (generation !== this.generation) return;
      if (!this.spawnProcess(generation)) return;
    }
    void this.awaitReady(generation);
  }

  spawnProcess(generation) {
    const argv = replicaCommand(this.model, this.port, this.options.env ?? process.env);
    this.command = argv;
    const fd = openSync(this.logPath, 'a');
    writeSync(fd, `\n=== ${new Date().toISOString()} switchboard-agent starts ${this.id}: CUDA_VISIBLE_DEVICES=${this.plan.gpus.join(',')} ${argv.join(' ')}\n`);
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), {
        detached: true, // its own process group: stop reaches every process it forks
        stdio: ['ignore', fd, fd],
        env: { ...(this.options.env ?? process.env), ...this.model.env, CUDA_VISIBLE_DEVICES: this.plan.gpus.join(',') },
      });
    } catch (error) {
      closeSync(fd);
      this.fail(`cannot start engine ${JSON.stringify(argv[0])}: ${error.message}`, { startup: true });
      return false;
    }
    closeSync(fd); // the child holds its own copy
    let resolveExit;
    this.exited = new Promise((r) => (resolveExit = r));
    this.pid = child.pid ?? null;
    child.once('error', (error) => {
      resolveExit();
      if (generation !== this.generation) return;
      const hint = error.code === 'ENOENT'
        ? `engine binary ${JSON.stringify(argv[0])} not found${this.engine.binaryEnv ? ` (install it, or set \`binary:\` for this model or ${this.engine.binaryEnv})` : ''}`
        : `cannot start engine ${JSON.stringify(argv[0])}: ${error.message}`;
      this.fail(hint, { startup: true });
    });
    child.once('exit', (code, signal) => {
      resolveExit();
      if (generation !== this.generation) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const during = this.state === 'starting' ? ' during start-up' : '';
      this.fail(`engine ${how}${during}`, { startup: this.state === 'starting' });
    });
    return true;
  }

  async awaitReady(generation) {
    const deadline = this.startedAt + this.model.readinessTimeoutMs;
    while (generation === this.generation && this.state === 'starting') {
      if (await this.checkPaths(this.engine.readiness)) {
        if (generation !== this.generation || this.state !== 'starting') return;
        this.onReady(generation);
        return;
      }
      if (generation !== this.generation || this.state !== 'starting') return;
      if (Date.now() >= deadline) {
        this.fail(`not ready within ${formatMs(this.model.readinessTimeoutMs)} (readiness_timeout): ${this.engine.readiness.join(' and ')} did not answer`, {});
        return;
      }
      await this.sleep(Math.min(this.options.readyPollMs, Math.max(1, deadline - Date.now())));
    }
  }

  onReady(generation) {
    this.readyAt = Date.now();
    this.everReady = true;
    this.setState('ready');
    this.options.log(`${this.id} ready on port ${this.port} after ${formatMs(this.readyAt - this.startedAt)}`);
    // A replica that stays up for a while has recovered: later failures start the backoff afresh.
    this.later(this.options.restart.stableAfterMs, () => {
      if (generation === this.generation && this.state === 'ready') this.consecutiveFailures = 0;
    });
    let failures = 0;
    const check = async () => {
      if (generation !== this.generation || this.state !== 'ready') return;
      const ok = await this.checkPaths([this.engine.health]);
      if (generation !== this.generation || this.state !== 'ready') return;
      failures = ok ? 0 : failures + 1;
      if (failures >= this.options.health.failures) {
        this.fail(`unhealthy: ${this.engine.health} failed ${failures} time(s) in a row`, {});
        return;
      }
      this.later(this.options.health.intervalMs, check);
    };
    this.later(this.options.health.intervalMs, check);
  }

  /** Called by the pool when a connection to this replica is refused: check now rather than at the next interval. */
  suspect() {
    if (this.state !== 'ready') return;
    const generation = this.generation;
    void this.checkPaths([this.engine.health]).then((ok) => {
      if (!ok && generation === this.generation && this.state === 'ready') this.fail(`unhealthy: connection refused and ${this.engine.health} failed`, {});
    });
  }

  /**
   * @param {string} reason
   * @param {{startup?: boolean}} how
   */
  fail(reason, how) {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const generation = ++this.generation;
    this.clearTimers();
    const pid = this.pid;
    const wasReady = this.state === 'ready';
    this.setState(this.engine.launches ? 'restarting' : 'unhealthy');
    void (async () => {
      // Leftovers of a crashed engine (forked workers) still hold GPUs and ports: clear the group first.
      if (pid) await terminateGroup(pid, wasReady ? this.options.stopGraceMs : 0);
      if (generation !== this.generation) return;
      const logTail = this.engine.launches ? tailLines(this.logPath, 20) : [];
      this.lastError = { message: reason, at: Date.now(), logTail };
      if (!this.engine.launches) {
        // Not ours to restart: keep checking until it answers again.
        this.options.log(`${this.id} (external, port ${this.port}) is not answering: ${reason}`);
        this.later(this.options.health.intervalMs, () => generation === this.generation && this.launch());
        return;
      }
      if (how.startup && !this.everReady && this.launches === 1) {
        // A start-up error (bad flag, missing binary, taken port) will not fix itself: report it now, once.
        this.setState('failed');
        this.options.log(`${this.id} failed to start: ${reason}${formatTail(logTail, this.logPath)}`);
        this.emit('failed', this.lastError);
        return;
      }
      this.consecutiveFailures++;
      if (this.consecutiveFailures > this.options.restart.crashLoopRestarts) {
        this.setState('crash-loop');
        this.options.log(`${this.id} is crash-looping (${this.consecutiveFailures} failures in a row), not restarting: ${reason}${formatTail(logTail, this.logPath)}`);
        this.emit('crash-loop', this.lastError);
        return;
      }
      const delay = backoffDelay(this.consecutiveFailures, this.options.restart.initialBackoffMs, this.options.restart.maxBackoffMs);
      this.nextStartAt = Date.now() + delay;
      this.setState('backoff');
      this.options.log(`${this.id} ${reason}; restarting in ${formatMs(delay)} (failure ${this.consecutiveFailures})${formatTail(logTail.slice(-5), this.logPath)}`);
      this.later(delay, () => {
        if (generation !== this.generation) return;
        this.restarts++;
        void this.launch();
      });
    })();
  }

  async stop() {
    if (this.state === 'stopped') return;
    ++this.generation;
    this.clearTimers();
    this.setState('stopping');
    if (this.pid) await terminateGroup(this.pid, this.options.stopGraceMs);
    if (this.exited) await this.exited;
    this.setState('stopped');
  }

  /** Synchronous last resort when the agent process is exiting. */
  killNow() {
    if (this.pid) killGroupNow(this.pid);
  }

  checkPaths(paths) {
    return paths.reduce(
      (prev, path) => prev.then((ok) => ok && httpOk(this.host, this.port, path, this.options.health.timeoutMs)),
      Promise.resolve(true),
    );
  }

  setState(state) {
    if (this.state === state) return;
    const previous = this.state;
    this.state = state;
    this.emit('state', state, previous);
  }

  later(ms, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  sleep(ms) {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  snapshot(now = Date.now()) {
    return {
      id: this.id,
      model: this.model.name,
      engine: this.model.engine,
      port: this.port,
      gpus: this.plan.gpus,
      state: this.state,
      pid: this.pid,
      inFlight: this.inFlight,
      restarts: this.restarts,
      consecutiveFailures: this.consecutiveFailures,
      startedAt: this.startedAt,
      readyAt: this.readyAt,
      loadingMs: this.state === 'starting' && this.startedAt ? now - this.startedAt : null,
      nextStartAt: this.nextStartAt,
      log: this.engine.launches ? this.logPath : null,
      command: this.command ?? null,
      lastError: this.lastError,
    };
  }
}

/** One GET; true for a 2xx answer within the timeout. */
export function httpOk(host, port, path, timeoutMs) {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** A taken port is reported before the engine is started, with a clear message. */
export function portIsFree(host, port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function formatTail(lines, path) {
  if (!lines.length) return '';
  return `\n  last lines of ${path}:\n    ${lines.join('\n    ')}`;
}

export function formatMs(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** What makes a replica the same across a reload: its id, port, GPUs and its model's settings. */
function planKey(plan) {
  return JSON.stringify([plan.id, plan.port, plan.gpus, plan.model]);
}

/** All replicas of all models, and the status file `switchboard-agent status` reads. */
export class Supervisor extends EventEmitter {
  /**
   * @param {import('./plan.js').ReplicaPlan[]} plans
   * @param {import('./config.js').AgentConfig} config
   * @param {{log?: (line: string) => void, env?: NodeJS.ProcessEnv}} [options]
   */
  constructor(plans, config, options = {}) {
    super();
    this.config = config;
    this.options = options;
    this.log = options.log ?? ((line) => console.error(`[switchboard-agent] ${line}`));
    this.replicas = plans.map((plan) => this.createReplica(plan));
  }

  /** @param {import('./plan.js').ReplicaPlan} plan */
  createReplica(plan) {
    const { config } = this;
    const replica = new Replica(plan, {
      logDir: join(config.stateDir, 'logs'),
      restart: config.restart,
      health: config.health,
      stopGraceMs: config.stopGraceMs,
      readyPollMs: config.readyPollMs,
      log: this.log,
      env: this.options.env,
    });
    replica.on('state', () => this.emit('change', replica));
    return replica;
  }

  start() {
    for (const r of this.replicas) r.start();
  }

  /**
   * A reloaded configuration's replicas: those whose plan is unchanged (same model
   * settings, port and GPUs) keep running untouched; the others are stopped (SIGTERM to
   * their process group, SIGKILL after the grace period, as on shutdown) before the new
   * ones start, so ports and GPUs are free for them.
   * @param {import('./plan.js').ReplicaPlan[]} plans
   * @returns {Promise<{added: Replica[], removed: Replica[], kept: Replica[]}>}
   */
  async apply(plans) {
    const current = new Map(this.replicas.map((r) => [planKey(r.plan), r]));
    const wanted = new Set(plans.map(planKey));
    const removed = this.replicas.filter((r) => !wanted.has(planKey(r.plan)));
    const kept = this.replicas.filter((r) => wanted.has(planKey(r.plan)));
    const added = plans.filter((p) => !current.has(planKey(p))).map((p) => this.createReplica(p));
    this.replicas = [...kept, ...added].sort((a, b) => plans.findIndex((p) => p.id === a.id) - plans.findIndex((p) => p.id === b.id));
    await Promise.all(removed.map((r) => r.stop()));
    for (const r of added) r.start();
    this.emit('change', null);
    return { added, removed, kept };
  }

  /** Replicas of one model. */
  pool(name) {
    return this.replicas.filter((r) => r.model.name === name);
  }

  get modelNames() {
    return [...new Set(this.replicas.map((r) => r.model.name))];
  }

  async stop() {
    await Promise.all(this.replicas.map((r) => r.stop()));
  }

  killNow() {
    for (const r of this.replicas) r.killNow();
  }

  snapshot() {
    const now = Date.now();
    return { pid: process.pid, at: now, replicas: this.replicas.map((r) => r.snapshot(now)) };
  }
}
