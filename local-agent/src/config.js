// Agent configuration: YAML → validated, normalized config. Pure apart from
// loadConfig's file read; every error names the field and says what is wrong.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ENGINES } from './engines.js';
import { splitShellWords } from './shell-words.js';

export class ConfigError extends Error {
  /** @param {string[]} problems */
  constructor(problems, source = 'config') {
    super(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * @typedef {object} ModelConfig
 * @property {string} name            served name (what clients put in `model`)
 * @property {'vllm'|'lmdeploy'|'custom'|'external'} engine
 * @property {string|null} model      model path or hub id (vllm, lmdeploy)
 * @property {number} tp              GPUs per replica
 * @property {number|'auto'} replicas
 * @property {number|null} basePort
 * @property {number[]|null} ports    external: the ports already serving
 * @property {string} host
 * @property {string[]} args          extra engine arguments
 * @property {string[]|null} command  custom: argv template containing {port}
 * @property {string|null} binary     engine executable override
 * @property {Record<string,string>} env
 * @property {number[]|null} gpus     GPUs reserved for this model
 * @property {number} readinessTimeoutMs
 * @property {boolean} mergeConsecutiveRoles
 *
 * @typedef {object} AgentConfig
 * @property {number[]|null} gpus
 * @property {string} stateDir
 * @property {{host: string, port: number}|null} listen
 * @property {{initialBackoffMs: number, maxBackoffMs: number, stableAfterMs: number, crashLoopRestarts: number}} restart
 * @property {{intervalMs: number, timeoutMs: number, failures: number}} health
 * @property {number} stopGraceMs
 * @property {number} readyPollMs
 * @property {GatewayConfig|null} gateway
 * @property {ModelConfig[]} models
 * @property {AzureCredentialConfig[]} azureCredentials
 *
 * @typedef {object} AzureCredentialConfig
 * @property {string} name            the gateway's `auth = "agent:NAME"`
 * @property {string|null} tenantId
 * @property {string|null} subscription
 *
 * @typedef {object} GatewayConfig
 * @property {string} url            ws:// or wss:// base URL of the gateway
 * @property {string} tokenEnv       environment variable holding the agent token
 * @property {string} name           this agent's name in the gateway's view
 * @property {number} heartbeatMs
 * @property {number} reconnectInitialMs
 * @property {number} reconnectMaxMs
 */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A number is seconds; a string may carry a unit: "500ms", "30s", "10m", "1h". */
export function parseDuration(value) {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  if (typeof value === 'string') {
    const m = DURATION.exec(value.trim());
    if (m) return Number(m[1]) * UNIT_MS[m[2] ?? 's'];
  }
  return undefined;
}

const MODEL_KEYS = new Set([
  'name', 'engine', 'model', 'tp', 'tensor_parallel', 'replicas', 'base_port', 'ports', 'host', 'args', 'command',
  'binary', 'env', 'gpus', 'readiness_timeout', 'merge_consecutive_roles',
]);
const TOP_KEYS = new Set(['gpus', 'state_dir', 'listen', 'restart', 'health', 'stop_grace', 'ready_poll', 'models', 'gateway', 'azure_credentials']);

/**
 * Validates a parsed YAML document.
 * @param {unknown} doc
 * @param {{baseDir?: string}} [options] directory relative paths (state_dir) resolve against
 * @returns {AgentConfig}
 */
export function validateConfig(doc, options = {}) {
  const problems = [];
  const baseDir = options.baseDir ?? process.cwd();
  if (!isObject(doc)) throw new ConfigError(['the file must be a YAML mapping with a `models` list']);

  for (const key of Object.keys(doc)) if (!TOP_KEYS.has(key)) problems.push(`${key}: unknown setting (known: ${[...TOP_KEYS].join(', ')})`);

  const gpus = doc.gpus === undefined || doc.gpus === 'auto' ? null : gpuList(doc.gpus, 'gpus', problems);
  const stateDir = resolve(baseDir, typeof doc.state_dir === 'string' ? doc.state_dir : '.switchboard-agent');
  if (doc.state_dir !== undefined && typeof doc.state_dir !== 'string') problems.push('state_dir: must be a directory path');

  let listen = null;
  if (doc.listen !== undefined) {
    listen = parseListen(doc.listen);
    if (!listen) problems.push(`listen: must be HOST:PORT, e.g. 127.0.0.1:8000 (got ${show(doc.listen)})`);
  }

  const restartDoc = section(doc.restart, 'restart', problems);
  const healthDoc = section(doc.health, 'health', problems);
  const restart = {
    initialBackoffMs: duration(restartDoc.initial_backoff, 'restart.initial_backoff', 1000, problems),
    maxBackoffMs: duration(restartDoc.max_backoff, 'restart.max_backoff', 60_000, problems),
    stableAfterMs: duration(restartDoc.stable_after, 'restart.stable_after', 300_000, problems),
    crashLoopRestarts: count(restartDoc.crash_loop_restarts, 'restart.crash_loop_restarts', 5, problems),
  };
  const health = {
    intervalMs: duration(healthDoc.interval, 'health.interval', 10_000, problems),
    timeoutMs: duration(healthDoc.timeout, 'health.timeout', 5000, problems),
    failures: count(healthDoc.failures, 'health.failures', 3, problems, 1),
  };
  const stopGraceMs = duration(doc.stop_grace, 'stop_grace', 15_000, problems);
  const readyPollMs = duration(doc.ready_poll, 'ready_poll', 1000, problems);
  const gateway = doc.gateway === undefined ? null : validateGateway(doc.gateway, problems);

  const azureCredentials = validateAzureCredentials(doc.azure_credentials, gateway, problems);

  /** @type {ModelConfig[]} */
  const models = [];
  // A box that only brokers an `az login` for the gateway serves no model.
  if ((doc.models === undefined || (Array.isArray(doc.models) && doc.models.length === 0)) && azureCredentials.length > 0) {
    // nothing to serve
  } else if (!Array.isArray(doc.models) || doc.models.length === 0) {
    problems.push('models: must be a non-empty list of models to serve');
  } else {
    const names = new Map();
    doc.models.forEach((m, i) => {
      const model = validateModel(m, `models[${i}]`, problems);
      if (!model) return;
      if (names.has(model.name)) problems.push(`models[${i}].name: "${model.name}" is already served by models[${names.get(model.name)}]`);
      names.set(model.name, i);
      models.push(model);
    });
  }

  if (problems.length) throw new ConfigError(problems);
  return { gpus, stateDir, listen, restart, health, stopGraceMs, readyPollMs, gateway, models, azureCredentials };
}

const CREDENTIAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * azure_credentials: [{ name, tenant_id?, subscription? }]: Azure CLI logins this agent
 * brokers for the gateway (credential-broker.js); needs `gateway`.
 * @returns {AzureCredentialConfig[]}
 */
function validateAzureCredentials(list, gateway, problems) {
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.length === 0) {
    problems.push('azure_credentials: must be a list like [{ name: lab-azure }]');
    return [];
  }
  if (gateway === null) problems.push('azure_credentials: needs a gateway section (the agent hands the tokens to the gateway)');
  const out = [];
  const seen = new Set();
  list.forEach((c, i) => {
    const at = `azure_credentials[${i}]`;
    if (!isObject(c)) return problems.push(`${at}: must be a mapping like { name: lab-azure }`);
    for (const key of Object.keys(c)) if (!['name', 'tenant_id', 'subscription'].includes(key)) problems.push(`${at}.${key}: unknown setting (known: name, tenant_id, subscription)`);
    if (typeof c.name !== 'string' || !CREDENTIAL_NAME.test(c.name)) {
      return problems.push(`${at}.name: required: the credential's name in the gateway's \`auth = "agent:NAME"\` (letters, digits, . _ -; got ${show(c.name)})`);
    }
    if (seen.has(c.name)) problems.push(`${at}.name: "${c.name}" is listed twice`);
    seen.add(c.name);
    if (c.tenant_id !== undefined && (typeof c.tenant_id !== 'string' || !/^[A-Za-z0-9.-]+$/.test(c.tenant_id))) problems.push(`${at}.tenant_id: must be a tenant id or domain (got ${show(c.tenant_id)})`);
    if (c.subscription !== undefined && (typeof c.subscription !== 'string' || !/^[A-Za-z0-9 ._()-]+$/.test(c.subscription))) problems.push(`${at}.subscription: must be a subscription name or id (got ${show(c.subscription)})`);
    out.push({ name: c.name, tenantId: c.tenant_id ?? null, subscription: c.subscription ?? null });
  });
  return out;
}

/** @returns {GatewayConfig|null} */
function validateGateway(g, problems) {
  if (!isObject(g)) {
    problems.push('gateway: must be a mapping with url (and token_env)');
    return null;
  }
  for (const key of Object.keys(g)) {
    if (!['url', 'token_env', 'name', 'heartbeat', 'reconnect_initial', 'reconnect_max'].includes(key)) problems.push(`gateway.${key}: unknown setting`);
  }
  let url = null;
  try {
    const parsed = new URL(g.url);
    if (parsed.protocol === 'ws:' || parsed.protocol === 'wss:') url = parsed.toString().replace(/\/$/, '');
  } catch {
    // reported below
  }
  if (!url) problems.push(`gateway.url: must be a ws:// or wss:// URL of the gateway (got ${show(g.url)})`);
  const tokenEnv = g.token_env ?? 'SWITCHBOARD_AGENT_TOKEN';
  if (typeof tokenEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(tokenEnv)) problems.push('gateway.token_env: must name the environment variable that holds the agent token (the token itself never goes in this file)');
  if (g.name !== undefined && typeof g.name !== 'string') problems.push('gateway.name: must be a string');
  return {
    url,
    tokenEnv,
    name: typeof g.name === 'string' ? g.name : hostname(),
    heartbeatMs: duration(g.heartbeat, 'gateway.heartbeat', 15_000, problems),
    reconnectInitialMs: duration(g.reconnect_initial, 'gateway.reconnect_initial', 500, problems),
    reconnectMaxMs: duration(g.reconnect_max, 'gateway.reconnect_max', 30_000, problems),
  };
}

/** @returns {ModelConfig|null} */
function validateModel(m, at, problems) {
  if (!isObject(m)) {
    problems.push(`${at}: must be a mapping with name, engine, …`);
    return null;
  }
  const before = problems.length;
  for (const key of Object.keys(m)) if (!MODEL_KEYS.has(key)) problems.push(`${at}.${key}: unknown setting`);

  const name = typeof m.name === 'string' && m.name.trim() ? m.name.trim() : null;
  if (!name) problems.push(`${at}.name: required: the model name clients request`);
  else if (/[\s]/.test(name)) problems.push(`${at}.name: must not contain spaces (got ${show(m.name)})`);

  const engine = m.engine;
  if (!Object.hasOwn(ENGINES, engine)) {
    problems.push(`${at}.engine: must be one of ${Object.keys(ENGINES).join(', ')} (got ${show(engine)})`);
    return null;
  }
  const spec = ENGINES[engine];

  let model = null;
  if (spec.needsModel) {
    if (typeof m.model !== 'string' || !m.model.trim()) problems.push(`${at}.model: required for engine ${engine}: a model path or hub id`);
    else model = m.model;
  } else if (m.model !== undefined) {
    if (typeof m.model !== 'string') problems.push(`${at}.model: must be a string`);
    else model = m.model;
  }

  const tpRaw = m.tp ?? m.tensor_parallel;
  let tp = 1;
  if (tpRaw !== undefined) {
    if (!Number.isInteger(tpRaw) || tpRaw < 1) problems.push(`${at}.tp: must be a positive integer number of GPUs per replica (got ${show(tpRaw)})`);
    else tp = tpRaw;
  }

  let command = null;
  if (engine === 'custom') {
    if (typeof m.command === 'string') command = splitShellWords(m.command, `${at}.command`, problems);
    else if (Array.isArray(m.command) && m.command.length && m.command.every((a) => typeof a === 'string' || typeof a === 'number')) command = m.command.map(String);
    else problems.push(`${at}.command: required for engine custom: the server command, with {port} where the port goes`);
    if (command && !command.some((a) => a.includes('{port}'))) problems.push(`${at}.command: must contain {port} so each replica gets its own port`);
  } else if (m.command !== undefined) problems.push(`${at}.command: only for engine custom`);

  let ports = null;
  let replicas = 1;
  let basePort = null;
  if (engine === 'external') {
    if (Array.isArray(m.ports) && m.ports.length && m.ports.every(isPort)) ports = m.ports;
    else if (isPort(m.base_port) && Number.isInteger(m.replicas) && m.replicas >= 1) ports = Array.from({ length: m.replicas }, (_, k) => m.base_port + k);
    else problems.push(`${at}.ports: required for engine external: the ports the running server(s) listen on (or base_port + replicas)`);
    if (ports) replicas = ports.length;
    if (m.gpus !== undefined) problems.push(`${at}.gpus: an external server is not started by the agent, so it gets no GPUs`);
  } else {
    if (m.ports !== undefined) problems.push(`${at}.ports: only for engine external; use base_port`);
    if (m.replicas === undefined || m.replicas === 'auto') replicas = m.replicas === 'auto' ? 'auto' : 1;
    else if (Number.isInteger(m.replicas) && m.replicas >= 1) replicas = m.replicas;
    else problems.push(`${at}.replicas: must be a positive integer or "auto" (got ${show(m.replicas)})`);
    if (!isPort(m.base_port)) problems.push(`${at}.base_port: required: the first replica's port, 1–65535 (got ${show(m.base_port)})`);
    else basePort = m.base_port;
  }

  const args = [];
  if (m.args !== undefined) {
    if (typeof m.args === 'string') args.push(...splitShellWords(m.args, `${at}.args`, problems));
    else if (Array.isArray(m.args) && m.args.every((a) => ['string', 'number', 'boolean'].includes(typeof a))) args.push(...m.args.map(String));
    else problems.push(`${at}.args: must be a list of arguments (or one string, split like a shell does)`);
    if (engine === 'external' && args.length) problems.push(`${at}.args: an external server is not started by the agent`);
  }

  const env = {};
  if (m.env !== undefined) {
    if (!isObject(m.env)) problems.push(`${at}.env: must be a mapping of NAME: value`);
    else for (const [k, v] of Object.entries(m.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) problems.push(`${at}.env.${k}: not a valid environment variable name`);
      else if (!['string', 'number', 'boolean'].includes(typeof v)) problems.push(`${at}.env.${k}: must be a string or number`);
      else if (k === 'CUDA_VISIBLE_DEVICES') problems.push(`${at}.env.CUDA_VISIBLE_DEVICES: set by the agent per replica; use gpus instead`);
      else env[k] = String(v);
    }
  }

  const gpus = m.gpus === undefined ? null : gpuList(m.gpus, `${at}.gpus`, problems);
  const readinessTimeoutMs = duration(m.readiness_timeout, `${at}.readiness_timeout`, 600_000, problems);
  const host = typeof m.host === 'string' && m.host ? m.host : '127.0.0.1';
  if (m.host !== undefined && typeof m.host !== 'string') problems.push(`${at}.host: must be a host name or address`);
  if (m.binary !== undefined && (typeof m.binary !== 'string' || !m.binary)) problems.push(`${at}.binary: must be a path to the engine executable`);
  if (m.merge_consecutive_roles !== undefined && typeof m.merge_consecutive_roles !== 'boolean') problems.push(`${at}.merge_consecutive_roles: must be true or false`);

  if (problems.length > before) return null;
  return {
    name, engine, model, tp, replicas, basePort, ports, host, args, command,
    binary: m.binary ?? null, env, gpus, readinessTimeoutMs, mergeConsecutiveRoles: m.merge_consecutive_roles === true,
  };
}

/** Reads and validates a YAML config file; relative paths in it resolve against its directory. */
export function loadConfig(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`cannot read ${path}: ${error.code ?? error.message}`], path);
  }
  let doc;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`not valid YAML: ${error.message.split('\n')[0]}`], path);
  }
  try {
    return validateConfig(doc, { baseDir: dirname(resolve(path)) });
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(error.problems, path);
    throw error;
  }
}

export function parseListen(value) {
  const text = typeof value === 'number' ? `127.0.0.1:${value}` : typeof value === 'string' ? value : '';
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text.trim()) ?? /^()()(\d+)$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function gpuList(value, at, problems) {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean).map(Number) : value;
  if (!Array.isArray(list) || !list.every((g) => Number.isInteger(g) && g >= 0)) {
    problems.push(`${at}: must be a list of GPU indices like [0, 1, 2, 3] (got ${show(value)})`);
    return null;
  }
  const seen = new Set();
  for (const g of list) {
    if (seen.has(g)) problems.push(`${at}: GPU ${g} is listed twice`);
    seen.add(g);
  }
  return list;
}

function section(value, at, problems) {
  if (value === undefined) return {};
  if (!isObject(value)) {
    problems.push(`${at}: must be a mapping`);
    return {};
  }
  return value;
}

function duration(value, at, fallback, problems) {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) {
    problems.push(`${at}: must be a duration: seconds, or a string like "500ms", "30s", "10m" (got ${show(value)})`);
    return fallback;
  }
  return ms;
}

function count(value, at, fallback, problems, min = 0) {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    problems.push(`${at}: must be an integer ≥ ${min} (got ${show(value)})`);
    return fallback;
  }
  return value;
}

const isPort = (p) => Number.isInteger(p) && p >= 1 && p <= 65535;
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v) => (v === undefined ? 'nothing' : JSON.stringify(v));
