// Engines as data: how each kind of server is launched (command template, how the
// port and tensor parallelism are passed), and how readiness and health are checked.

/**
 * @typedef {object} EngineSpec
 * @property {boolean} launches      false: already running (external), the agent only checks it
 * @property {boolean} needsModel    a model path / id is required
 * @property {boolean} usesGpus
 * @property {string|null} binary    default executable
 * @property {string|null} binaryEnv environment variable that overrides the executable
 * @property {(r: {model: string, port: number, tp: number, name: string, host: string}) => string[]|null} argv
 * @property {string[]} readiness    paths that must answer 2xx before the replica takes requests
 * @property {string} health         path checked while running
 */

/** @type {Record<string, EngineSpec>} */
export const ENGINES = {
  vllm: {
    launches: true,
    needsModel: true,
    usesGpus: true,
    binary: 'vllm',
    binaryEnv: 'SWITCHBOARD_VLLM_BIN',
    // --served-model-name: the engine answers to the name clients use, so requests pass through unchanged.
    argv: ({ model, port, tp, name, host }) => ['serve', model, '--host', host, '--port', String(port), '--tensor-parallel-size', String(tp), '--served-model-name', name],
    readiness: ['/health', '/v1/models'],
    health: '/health',
  },
  lmdeploy: {
    launches: true,
    needsModel: true,
    usesGpus: true,
    binary: 'lmdeploy',
    binaryEnv: 'SWITCHBOARD_LMDEPLOY_BIN',
    argv: ({ model, port, tp, name, host }) => ['serve', 'api_server', model, '--server-name', host, '--server-port', String(port), '--tp', String(tp), '--model-name', name],
    readiness: ['/v1/models'],
    health: '/v1/models',
  },
  custom: {
    launches: true,
    needsModel: false,
    usesGpus: true,
    binary: null,
    binaryEnv: null,
    argv: () => null, // the model's own command template
    readiness: ['/v1/models'],
    health: '/v1/models',
  },
  external: {
    launches: false,
    needsModel: false,
    usesGpus: false,
    binary: null,
    binaryEnv: null,
    argv: () => null,
    readiness: ['/v1/models'],
    health: '/v1/models',
  },
};

/**
 * The command line of one replica: [executable, ...args].
 * @param {import('./config.js').ModelConfig} model
 * @param {number} port
 * @param {NodeJS.ProcessEnv} env where SWITCHBOARD_<ENGINE>_BIN may override the executable
 */
export function replicaCommand(model, port, env = process.env) {
  const spec = ENGINES[model.engine];
  if (!spec.launches) return null;
  if (model.engine === 'custom') {
    const argv = model.command.map((a) => a.replaceAll('{port}', String(port)));
    if (model.binary) argv[0] = model.binary;
    return [...argv, ...model.args];
  }
  const binary = model.binary || (spec.binaryEnv && env[spec.binaryEnv]) || spec.binary;
  return [binary, ...spec.argv({ model: model.model, port, tp: model.tp, name: model.name, host: model.host }), ...model.args];
}
