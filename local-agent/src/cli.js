// switchboard-agent: start | status | --version | --help

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseListen } from './config.js';
import { ENGINES } from './engines.js';
import { detectGpus } from './gpus.js';
import { planReplicas } from './plan.js';
import { Pool } from './pool.js';
import { createAgentServer } from './server.js';
import { Supervisor, formatMs } from './supervisor.js';
import { commandLine, isAlive, leftoverGroups, terminateGroup } from './process-group.js';
import { TunnelClient } from './tunnel.js';
import { CredentialBroker, azureCliCredential } from './credential-broker.js';

const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

const HELP = `switchboard-agent ${VERSION}: runs vLLM / LMDeploy / custom OpenAI-compatible engines on this
GPU box, supervises them, and serves each model's replicas as one pool.

Usage:
  switchboard-agent start --config agent.yaml [--listen HOST:PORT]
  switchboard-agent status --config agent.yaml [--json]
  switchboard-agent --version
  switchboard-agent --help

start     starts every replica in the config, restarts them when they die, and runs
          until SIGINT / SIGTERM, which stops every engine process group. SIGHUP
          re-reads the config's models: added ones start, removed or changed ones
          stop, unchanged ones keep running.
          --listen HOST:PORT also serves the pools as an OpenAI-compatible endpoint
          (POST /v1/chat/completions, GET /v1/models), e.g. --listen 127.0.0.1:8000.
status    shows the replicas of a running agent (state, port, GPUs, loading time,
          restarts, last error) from its state directory.

Environment: SWITCHBOARD_VLLM_BIN, SWITCHBOARD_LMDEPLOY_BIN override the engine
executables; SWITCHBOARD_NVIDIA_SMI the nvidia-smi used to find GPUs.`;

/** @param {string[]} argv @returns {Promise<number|undefined>} */
export async function main(argv) {
  const { command, flags } = parseArgs(argv);
  if (flags.version) {
    console.log(VERSION);
    return 0;
  }
  if (flags.help || !command) {
    console.log(HELP);
    return command || flags.help ? 0 : 2;
  }
  if (command !== 'start' && command !== 'status') {
    console.error(`switchboard-agent: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  if (typeof flags.config !== 'string') {
    console.error(`switchboard-agent ${command}: --config <file> is required`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(flags.config);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  return command === 'start' ? start(config, flags) : status(config, flags);
}

function parseArgs(argv) {
  const flags = {};
  let command = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version' || a === '-v') flags.version = true;
    else if (a === '--help' || a === '-h') flags.help = true;
    else if (a === '--json') flags.json = true;
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else flags[a.slice(2)] = argv[++i];
    } else if (!command) command = a;
    else throw new Error(`unexpected argument "${a}"`);
  }
  return { command, flags };
}

async function start(config, flags) {
  const log = (line) => console.error(`[switchboard-agent ${new Date().toISOString()}] ${line}`);
  let listen = config.listen;
  if (flags.listen !== undefined) {
    listen = parseListen(flags.listen);
    if (!listen) {
      console.error(`switchboard-agent start: --listen must be HOST:PORT (got "${flags.listen}")`);
      return 2;
    }
  }

  let boxGpus = null;
  if (!config.gpus && config.models.some((m) => ENGINES[m.engine].usesGpus)) {
    const detected = await detectGpus();
    boxGpus = detected.gpus;
    if (!boxGpus) log(`no GPUs detected (${detected.reason}); list them under \`gpus:\` in the config`);
    else log(`GPUs detected: ${boxGpus.join(', ') || 'none'}`);
  }
  let plans;
  try {
    plans = planReplicas(config, boxGpus);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message.replace(/^config/, flags.config));
      return 2;
    }
    throw error;
  }

  let token = null;
  if (config.gateway) {
    token = process.env[config.gateway.tokenEnv];
    if (!token) {
      console.error(`switchboard-agent start: gateway.url is set but ${config.gateway.tokenEnv} is empty: put the agent token in that environment variable`);
      return 2;
    }
  }

  mkdirSync(config.stateDir, { recursive: true });
  const statusPath = join(config.stateDir, 'status.json');
  await clearLeftovers(statusPath, config.stopGraceMs, log);

  const supervisor = new Supervisor(plans, config, { log });
  const pools = new Map(supervisor.modelNames.map((name) => [name, new Pool(name, supervisor.pool(name))]));
  const writeStatus = () => {
    const snapshot = { ...supervisor.snapshot(), listen: listen ? `${listen.host}:${listen.port}` : null };
    writeFileSync(`${statusPath}.tmp`, JSON.stringify(snapshot, null, 2));
    renameSync(`${statusPath}.tmp`, statusPath);
  };
  supervisor.on('change', writeStatus);
  const statusTimer = setInterval(writeStatus, 1000);

  // If the agent dies anyway, it must not leave engines holding GPUs.
  process.on('exit', () => supervisor.killNow());

  let server = null;
  if (listen) {
    server = createAgentServer({ pools, status: () => supervisor.snapshot() });
    try {
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(listen.port, listen.host, resolve);
      });
    } catch (error) {
      console.error(`switchboard-agent start: cannot listen on ${listen.host}:${listen.port}: ${error.code ?? error.message}`);
      clearInterval(statusTimer);
      return 1;
    }
    const address = server.address();
    log(`serving ${[...pools.keys()].join(', ')} on http://${listen.host}:${address.port}/v1`);
  }

  log(`starting ${plans.length} replica(s): ${plans.map((p) => `${p.id}@${p.port}${p.gpus.length ? ` gpus=${p.gpus.join(',')}` : ''}`).join(' ')}`);
  supervisor.start();
  writeStatus();

  /** @type {Map<string, TunnelClient>} one per pool, by model name */
  const tunnels = new Map();
  const openTunnel = (pool) => {
    const tunnel = new TunnelClient(pool, {
      url: config.gateway.url,
      token,
      engine: pool.replicas[0].model.engine,
      agentName: config.gateway.name,
      heartbeatMs: config.gateway.heartbeatMs,
      reconnectInitialMs: config.gateway.reconnectInitialMs,
      reconnectMaxMs: config.gateway.reconnectMaxMs,
      log,
    });
    // Dial the gateway once the pool can serve, so requests are not sent to a pool still
    // loading; after that, tell it whenever the number of ready replicas changes.
    let started = false;
    const onChange = () => {
      if (started) tunnel.updateCapacity();
      else if (pool.readyCount > 0) {
        started = true;
        tunnel.start();
      }
    };
    supervisor.on('change', onChange);
    tunnel.detach = () => supervisor.off('change', onChange);
    onChange();
    tunnels.set(pool.name, tunnel);
  };
  if (config.gateway) for (const pool of pools.values()) openTunnel(pool);

  /**
   * SIGHUP: the config file again. Replicas whose settings are unchanged keep running;
   * changed and removed ones are stopped as on shutdown, added ones started; a removed
   * model's tunnel closes, so the gateway no longer lists it from this agent. Only
   * `models` (and `gpus`) are reloaded: other settings take a restart.
   */
  const reload = async () => {
    let next;
    let nextPlans;
    try {
      next = loadConfig(flags.config);
      nextPlans = planReplicas({ ...next, gpus: next.gpus ?? config.gpus }, boxGpus);
    } catch (error) {
      log(`SIGHUP: ${flags.config} not applied, the agent runs on as it was:\n${error.message}`);
      return;
    }
    const { added, removed } = await supervisor.apply(nextPlans);
    const names = new Set(supervisor.modelNames);
    for (const [name, pool] of pools) {
      if (names.has(name)) continue;
      const tunnel = tunnels.get(name);
      tunnel?.detach();
      tunnel?.close();
      tunnels.delete(name);
      pools.delete(name);
      pool.close();
    }
    for (const name of names) {
      const pool = pools.get(name);
      if (pool) pool.replicas = supervisor.pool(name);
      else {
        const created = new Pool(name, supervisor.pool(name));
        pools.set(name, created);
        if (config.gateway) openTunnel(created);
      }
    }
    writeStatus();
    log(`SIGHUP: reloaded ${flags.config}: ${added.length} replica(s) started${added.length ? ` (${added.map((r) => r.id).join(', ')})` : ''}, ${removed.length} stopped${removed.length ? ` (${removed.map((r) => r.id).join(', ')})` : ''}; serving ${[...pools.keys()].join(', ') || 'nothing'}`);
  };

  // Azure CLI logins this box brokers for the gateway (credential-broker.js).
  const brokers = [];
  for (const c of config.azureCredentials) {
    const broker = new CredentialBroker({
      name: c.name,
      url: config.gateway.url,
      token,
      host: config.gateway.name,
      credential: await azureCliCredential({ tenantId: c.tenantId, subscription: c.subscription }),
      heartbeatMs: config.gateway.heartbeatMs,
      reconnectInitialMs: config.gateway.reconnectInitialMs,
      reconnectMaxMs: config.gateway.reconnectMaxMs,
      log,
    });
    broker.start();
    brokers.push(broker);
  }

  return new Promise((resolve) => {
    let stopping = false;
    const shutdown = async (code, why) => {
      if (stopping) return;
      stopping = true;
      log(`${why}: stopping all engines`);
      clearInterval(statusTimer);
      for (const tunnel of tunnels.values()) tunnel.close();
      for (const broker of brokers) broker.close();
      server?.close();
      server?.closeAllConnections?.();
      await supervisor.stop();
      for (const pool of pools.values()) pool.close();
      writeStatus();
      log('stopped');
      resolve(code);
    };
    let reloading = Promise.resolve();
    process.on('SIGHUP', () => {
      if (!stopping) reloading = reloading.then(reload);
    });
    for (const signal of ['SIGINT', 'SIGTERM']) {
      process.on(signal, () => {
        if (stopping) {
          // A second signal: no more grace.
          supervisor.killNow();
          process.exit(130);
        }
        void shutdown(0, signal);
      });
    }
    // Nothing left that could serve: say so and exit rather than idle.
    supervisor.on('change', () => {
      const states = supervisor.replicas.map((r) => r.state);
      if (!stopping && states.length > 0 && states.every((s) => s === 'failed' || s === 'crash-loop')) void shutdown(1, 'every replica failed');
    });
  });
}

/** Engines a previous run of this config left running (it was killed with no chance to stop them) hold GPUs and ports: stop them first. */
async function clearLeftovers(statusPath, graceMs, log) {
  let previous;
  try {
    previous = JSON.parse(readFileSync(statusPath, 'utf8'));
  } catch {
    return;
  }
  const agentAlive = previous.pid !== process.pid && isAlive(previous.pid) && (commandLine(previous.pid)?.some((a) => a.includes('switchboard-agent')) ?? true);
  if (agentAlive) throw new Error(`another agent (pid ${previous.pid}) is running with this state directory`);
  const groups = leftoverGroups(previous.replicas ?? []);
  if (!groups.length) return;
  log(`stopping ${groups.length} engine process group(s) left by a previous run: ${groups.join(', ')}`);
  await Promise.all(groups.map((pid) => terminateGroup(pid, graceMs)));
}

function status(config, flags) {
  let snapshot;
  try {
    snapshot = JSON.parse(readFileSync(join(config.stateDir, 'status.json'), 'utf8'));
  } catch {
    console.error(`no agent has run with this config (no ${join(config.stateDir, 'status.json')})`);
    return 1;
  }
  const running = isAlive(snapshot.pid);
  if (flags.json) {
    console.log(JSON.stringify({ running, ...snapshot }, null, 2));
    return running ? 0 : 1;
  }
  const now = Date.now();
  console.log(running ? `agent pid ${snapshot.pid} running${snapshot.listen ? `, serving on http://${snapshot.listen}/v1` : ''}` : `agent pid ${snapshot.pid} is not running (last status ${formatMs(now - snapshot.at)} ago)`);
  const rows = [['REPLICA', 'PORT', 'GPUS', 'STATE', 'IN-FLIGHT', 'RESTARTS', 'DETAIL']];
  for (const r of snapshot.replicas) {
    let detail = '';
    if (r.state === 'starting' && r.startedAt) detail = `loading for ${formatMs(now - r.startedAt)}`;
    else if (r.state === 'ready' && r.readyAt) detail = `up ${formatMs(now - r.readyAt)}`;
    else if (r.state === 'backoff' && r.nextStartAt) detail = `restart in ${formatMs(Math.max(0, r.nextStartAt - now))}`;
    if (r.lastError && r.state !== 'ready') detail += `${detail ? '; ' : ''}${r.lastError.message}`;
    rows.push([r.id, String(r.port), r.gpus.join(',') || '-', r.state, String(r.inFlight), String(r.restarts), detail]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
  for (const r of snapshot.replicas) {
    if (r.lastError?.logTail?.length && (r.state === 'failed' || r.state === 'crash-loop')) {
      console.log(`\n${r.id} ${r.state}: ${r.lastError.message}\nlast lines of ${r.log}:\n  ${r.lastError.logTail.join('\n  ')}`);
    }
  }
  return running ? 0 : 1;
}
