import { describe, expect, it } from 'vitest';
import { ConfigError, parseDuration, parseListen, validateConfig } from '../../local-agent/src/config.js';
import { splitShellWords } from '../../local-agent/src/shell-words.js';

const vllm = { name: 'qwen', engine: 'vllm', model: 'Qwen/Qwen2-VL-7B-Instruct', base_port: 9000 };

function problems(doc: unknown): string[] {
  try {
    validateConfig(doc, { baseDir: '/tmp' });
  } catch (error) {
    if (error instanceof ConfigError) return (error as any).problems;
    throw error;
  }
  return [];
}

describe('validateConfig: errors name the field and say what is wrong', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not a mapping', [1, 2], /YAML mapping with a `models` list/],
    ['no models', {}, /^models: must be a non-empty list/],
    ['unknown top-level key', { models: [vllm], modles: [] }, /^modles: unknown setting/],
    ['missing name', { models: [{ ...vllm, name: undefined }] }, /^models\[0\]\.name: required/],
    ['name with spaces', { models: [{ ...vllm, name: 'a b' }] }, /^models\[0\]\.name: must not contain spaces/],
    ['bad engine', { models: [{ ...vllm, engine: 'sglang' }] }, /^models\[0\]\.engine: must be one of vllm, lmdeploy, custom, external \(got "sglang"\)/],
    ['vllm without model', { models: [{ ...vllm, model: undefined }] }, /^models\[0\]\.model: required for engine vllm/],
    ['tp zero', { models: [{ ...vllm, tp: 0 }] }, /^models\[0\]\.tp: must be a positive integer/],
    ['tp string', { models: [{ ...vllm, tp: 'two' }] }, /^models\[0\]\.tp: .*\(got "two"\)/],
    ['replicas bad', { models: [{ ...vllm, replicas: 'many' }] }, /^models\[0\]\.replicas: must be a positive integer or "auto"/],
    ['no base_port', { models: [{ ...vllm, base_port: undefined }] }, /^models\[0\]\.base_port: required/],
    ['port out of range', { models: [{ ...vllm, base_port: 70000 }] }, /^models\[0\]\.base_port: .*70000/],
    ['custom without command', { models: [{ name: 'c', engine: 'custom', base_port: 9000 }] }, /^models\[0\]\.command: required for engine custom/],
    ['custom without {port}', { models: [{ name: 'c', engine: 'custom', base_port: 9000, command: 'python serve.py --port 9000' }] }, /^models\[0\]\.command: must contain \{port\}/],
    ['command on vllm', { models: [{ ...vllm, command: 'x {port}' }] }, /^models\[0\]\.command: only for engine custom/],
    ['external without ports', { models: [{ name: 'e', engine: 'external' }] }, /^models\[0\]\.ports: required for engine external/],
    ['external with gpus', { models: [{ name: 'e', engine: 'external', ports: [9000], gpus: [0] }] }, /^models\[0\]\.gpus: an external server/],
    ['args not a list', { models: [{ ...vllm, args: { a: 1 } }] }, /^models\[0\]\.args: must be a list/],
    ['unterminated quote in args', { models: [{ ...vllm, args: "--x '{" }] }, /^models\[0\]\.args: unterminated ' quote/],
    ['env not a mapping', { models: [{ ...vllm, env: ['A=1'] }] }, /^models\[0\]\.env: must be a mapping/],
    ['env bad name', { models: [{ ...vllm, env: { 'A-B': 1 } }] }, /^models\[0\]\.env\.A-B: not a valid environment variable name/],
    ['env CUDA_VISIBLE_DEVICES', { models: [{ ...vllm, env: { CUDA_VISIBLE_DEVICES: '0' } }] }, /^models\[0\]\.env\.CUDA_VISIBLE_DEVICES: set by the agent/],
    ['bad readiness_timeout', { models: [{ ...vllm, readiness_timeout: 'soon' }] }, /^models\[0\]\.readiness_timeout: must be a duration.*"soon"/],
    ['unknown model key', { models: [{ ...vllm, tensor_paralel: 2 }] }, /^models\[0\]\.tensor_paralel: unknown setting/],
    ['gpus not indices', { gpus: ['a'], models: [vllm] }, /^gpus: must be a list of GPU indices/],
    ['gpu listed twice', { gpus: [0, 0], models: [vllm] }, /^gpus: GPU 0 is listed twice/],
    ['duplicate model name', { models: [vllm, { ...vllm, base_port: 9100 }] }, /^models\[1\]\.name: "qwen" is already served by models\[0\]/],
    ['bad listen', { listen: 'localhost', models: [vllm] }, /^listen: must be HOST:PORT/],
    ['bad restart section', { restart: 5, models: [vllm] }, /^restart: must be a mapping/],
    ['bad health failures', { health: { failures: 0 }, models: [vllm] }, /^health\.failures: must be an integer ≥ 1/],
  ];
  it.each(cases)('%s', (_name, doc, expected) => {
    const found = problems(doc);
    expect(found.some((p) => expected.test(p)), `problems were:\n${found.join('\n')}`).toBe(true);
  });

  it('reports every problem at once', () => {
    const found = problems({ models: [{ ...vllm, tp: 0, base_port: 'x' }, { name: 'e', engine: 'nope' }] });
    expect(found).toHaveLength(3);
  });

  it('normalizes a valid config with defaults', () => {
    const config = validateConfig(
      {
        gpus: '0,1,2,3',
        listen: '127.0.0.1:8000',
        models: [
          { ...vllm, replicas: 4, args: `--max-model-len 32000 --trust-remote-code --limit-mm-per-prompt '{"image": 10}'`, readiness_timeout: '20m', env: { HF_HOME: '/data/hf', X: 1 } },
          { name: 'ext', engine: 'external', ports: [8001, 8002] },
          { name: 'ext2', engine: 'external', base_port: 7000, replicas: 2 },
          { name: 'c', engine: 'custom', base_port: 9100, command: ['python', 'serve.py', '--port={port}'], replicas: 'auto' },
        ],
      },
      { baseDir: '/srv' },
    );
    expect(config.gpus).toEqual([0, 1, 2, 3]);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(config.stateDir).toBe('/srv/.switchboard-agent');
    expect(config.stopGraceMs).toBe(15_000);
    const [q, ext, ext2, c] = config.models;
    expect(q).toMatchObject({ replicas: 4, tp: 1, basePort: 9000, host: '127.0.0.1', readinessTimeoutMs: 1_200_000, env: { HF_HOME: '/data/hf', X: '1' } });
    expect(q.args).toEqual(['--max-model-len', '32000', '--trust-remote-code', '--limit-mm-per-prompt', '{"image": 10}']);
    expect(ext).toMatchObject({ ports: [8001, 8002], replicas: 2 });
    expect(ext2.ports).toEqual([7000, 7001]);
    expect(c).toMatchObject({ replicas: 'auto', command: ['python', 'serve.py', '--port={port}'] });
  });
});

describe('parseDuration', () => {
  it.each([
    [30, 30_000], ['500ms', 500], ['30s', 30_000], ['10m', 600_000], ['1h', 3_600_000], ['1.5s', 1500], ['45', 45_000],
    ['soon', undefined], [-1, undefined], ['10 minutes', undefined], [null, undefined],
  ] as [unknown, number | undefined][])('%j → %j', (input, expected) => expect(parseDuration(input)).toBe(expected));
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:8000', { host: '127.0.0.1', port: 8000 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:8000', { host: '::1', port: 8000 }],
    [8000, { host: '127.0.0.1', port: 8000 }],
    ['8000', { host: '127.0.0.1', port: 8000 }],
    ['localhost', null],
    ['host:99999', null],
  ] as [unknown, unknown][])('%j', (input, expected) => expect(parseListen(input)).toEqual(expected));
});

describe('splitShellWords', () => {
  it.each([
    ['a b  c', ['a', 'b', 'c']],
    [`--limit-mm-per-prompt '{"image": 10}'`, ['--limit-mm-per-prompt', '{"image": 10}']],
    [`--x "a \\"b\\" c"`, ['--x', 'a "b" c']],
    [`a\\ b`, ['a b']],
    [`''`, ['']],
    [`--port={port}`, ['--port={port}']],
    [``, []],
  ] as [string, string[]][])('%s', (input, expected) => {
    const problems: string[] = [];
    expect(splitShellWords(input, 'x', problems)).toEqual(expected);
    expect(problems).toEqual([]);
  });
});
