// Turns a validated config and the box's GPU list into replicas: which GPUs and which
// port each replica gets. Pure; a GPU is never given to two replicas.

import { ConfigError } from './config.js';
import { ENGINES } from './engines.js';

/**
 * @typedef {object} ReplicaPlan
 * @property {string} id      "<model>#<index>"
 * @property {import('./config.js').ModelConfig} model
 * @property {number} index
 * @property {number} port
 * @property {number[]} gpus  CUDA_VISIBLE_DEVICES of this replica
 */

/**
 * @param {import('./config.js').AgentConfig} config
 * @param {number[]|null} boxGpus detected GPUs (null: none detected)
 * @returns {ReplicaPlan[]}
 */
export function planReplicas(config, boxGpus) {
  const problems = [];
  const gpus = config.gpus ?? boxGpus ?? [];
  const available = new Set(gpus);
  const owner = new Map(); // gpu → model name

  // Models that name their GPUs take them first, so the rest are shared out after.
  config.models.forEach((m, i) => {
    if (!m.gpus) return;
    for (const g of m.gpus) {
      if (!available.has(g) && gpus.length) problems.push(`models[${i}].gpus: GPU ${g} is not one of this box's GPUs (${gpus.join(', ')})`);
      else if (owner.has(g)) problems.push(`models[${i}].gpus: GPU ${g} is already given to model "${owner.get(g)}"; two models can never share a GPU`);
      owner.set(g, m.name);
    }
  });
  const free = gpus.filter((g) => !owner.has(g));

  /** @type {ReplicaPlan[]} */
  const plans = [];
  config.models.forEach((m, i) => {
    const at = `models[${i}]`;
    if (!ENGINES[m.engine].usesGpus) {
      m.ports.forEach((port, index) => plans.push({ id: `${m.name}#${index}`, model: m, index, port, gpus: [] }));
      return;
    }
    const pool = m.gpus ? [...m.gpus] : free; // free is shared: taking from it leaves the rest for later models
    let replicas = m.replicas;
    if (replicas === 'auto') {
      replicas = Math.floor(pool.length / m.tp);
      if (replicas === 0) {
        problems.push(`${at}.replicas: auto found ${pool.length} free GPU(s)${gpus.length ? '' : ' (none given in `gpus` and nvidia-smi found none)'}, fewer than tp=${m.tp}`);
        return;
      }
    }
    const need = replicas * m.tp;
    if (pool.length < need) {
      const where = m.gpus ? `its gpus list has ${pool.length}` : `${pool.length} GPU(s) are left${gpus.length ? ` of ${gpus.join(', ')}` : ' (none given in `gpus` and nvidia-smi found none)'}`;
      problems.push(`${at}: ${replicas} replica(s) × tp=${m.tp} need ${need} GPU(s), but ${where}`);
      return;
    }
    const taken = pool.splice(0, need);
    for (const g of taken) owner.set(g, m.name);
    for (let index = 0; index < replicas; index++) {
      plans.push({ id: `${m.name}#${index}`, model: m, index, port: m.basePort + index, gpus: taken.slice(index * m.tp, (index + 1) * m.tp) });
    }
  });

  const ports = new Map();
  for (const p of plans) {
    if (ports.has(p.port)) problems.push(`port ${p.port}: used by both ${ports.get(p.port)} and ${p.id}; change base_port`);
    ports.set(p.port, p.id);
  }
  if (problems.length) throw new ConfigError(problems);
  return plans;
}
