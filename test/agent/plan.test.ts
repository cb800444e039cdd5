import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../local-agent/src/config.js';
import { replicaCommand } from '../../local-agent/src/engines.js';
import { parseNvidiaSmiIndices } from '../../local-agent/src/gpus.js';
import { planReplicas } from '../../local-agent/src/plan.js';

const plan = (doc: any, boxGpus: number[] | null = null) => planReplicas(validateConfig(doc, { baseDir: '/tmp' }), boxGpus);
const layout = (doc: any, boxGpus: number[] | null = null) => plan(doc, boxGpus).map((p) => `${p.id}:${p.port}:${p.gpus.join(',')}`);
function planError(doc: any, boxGpus: number[] | null = null): string {
  try {
    plan(doc, boxGpus);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return '';
}

describe('planReplicas: GPUs and ports per replica', () => {
  it('Qwen2-VL-7B as 4 replicas on ports 9000–9003, one GPU each', () => {
    expect(layout({ gpus: [0, 1, 2, 3], models: [{ name: 'qwen', engine: 'vllm', model: 'Q', replicas: 4, base_port: 9000 }] })).toEqual([
      'qwen#0:9000:0', 'qwen#1:9001:1', 'qwen#2:9002:2', 'qwen#3:9003:3',
    ]);
  });
  it('a 13B with tp=2 twice on 4 GPUs', () => {
    expect(layout({ gpus: [0, 1, 2, 3], models: [{ name: 'l13', engine: 'vllm', model: 'L', tp: 2, replicas: 2, base_port: 9000 }] })).toEqual(['l13#0:9000:0,1', 'l13#1:9001:2,3']);
  });
  it('replicas: auto uses the GPUs detected by nvidia-smi', () => {
    expect(layout({ models: [{ name: 'a', engine: 'vllm', model: 'A', tp: 2, replicas: 'auto', base_port: 9000 }] }, [0, 1, 2, 3, 4])).toEqual(['a#0:9000:0,1', 'a#1:9001:2,3']);
  });
  it('models with their own gpus are placed first; the rest share what is left', () => {
    expect(
      layout({
        gpus: [0, 1, 2, 3, 4, 5, 6, 7],
        models: [
          { name: 'auto', engine: 'vllm', model: 'A', replicas: 'auto', base_port: 9000 },
          { name: 'nvlm', engine: 'vllm', model: 'N', tp: 4, gpus: [4, 5, 6, 7], base_port: 9100 },
          { name: 'ext', engine: 'external', ports: [8000] },
        ],
      }),
    ).toEqual(['auto#0:9000:0', 'auto#1:9001:1', 'auto#2:9002:2', 'auto#3:9003:3', 'nvlm#0:9100:4,5,6,7', 'ext#0:8000:']);
  });
  it('external models need no GPUs (none detected is fine)', () => {
    expect(layout({ models: [{ name: 'ext', engine: 'external', ports: [8000, 8001] }] }, null)).toEqual(['ext#0:8000:', 'ext#1:8001:']);
  });

  it.each([
    ['two models given the same GPU', { gpus: [0, 1], models: [
      { name: 'a', engine: 'vllm', model: 'A', gpus: [0], base_port: 9000 },
      { name: 'b', engine: 'vllm', model: 'B', gpus: [0, 1], base_port: 9100 }] }, null,
      /models\[1\]\.gpus: GPU 0 is already given to model "a"; two models can never share a GPU/],
    ['GPU not on the box', { gpus: [0, 1], models: [{ name: 'a', engine: 'vllm', model: 'A', gpus: [5], base_port: 9000 }] }, null,
      /models\[0\]\.gpus: GPU 5 is not one of this box's GPUs \(0, 1\)/],
    ['not enough GPUs', { gpus: [0, 1, 2], models: [{ name: 'a', engine: 'vllm', model: 'A', tp: 2, replicas: 2, base_port: 9000 }] }, null,
      /models\[0\]: 2 replica\(s\) × tp=2 need 4 GPU\(s\), but 3 GPU\(s\) are left of 0, 1, 2/],
    ['no GPUs detected', { models: [{ name: 'a', engine: 'vllm', model: 'A', base_port: 9000 }] }, null,
      /none given in `gpus` and nvidia-smi found none/],
    ['second model finds the GPUs taken', { gpus: [0, 1], models: [
      { name: 'a', engine: 'vllm', model: 'A', replicas: 2, base_port: 9000 },
      { name: 'b', engine: 'lmdeploy', model: 'B', base_port: 9100 }] }, null,
      /models\[1\]: 1 replica\(s\) × tp=1 need 1 GPU\(s\), but 0 GPU\(s\) are left/],
    ['auto with fewer GPUs than tp', { gpus: [0], models: [{ name: 'a', engine: 'vllm', model: 'A', tp: 2, replicas: 'auto', base_port: 9000 }] }, null,
      /models\[0\]\.replicas: auto found 1 free GPU\(s\), fewer than tp=2/],
    ['overlapping ports', { gpus: [0, 1, 2], models: [
      { name: 'a', engine: 'vllm', model: 'A', replicas: 2, base_port: 9000 },
      { name: 'b', engine: 'vllm', model: 'B', base_port: 9001 }] }, null,
      /port 9001: used by both a#1 and b#0; change base_port/],
  ] as [string, any, number[] | null, RegExp][])('%s', (_n, doc, gpus, expected) => {
    expect(planError(doc, gpus)).toMatch(expected);
  });
});

describe('replicaCommand: engines as data', () => {
  const model = (m: any) => validateConfig({ models: [m] }).models[0];
  it.each([
    ['vllm', { name: 'qwen', engine: 'vllm', model: 'Qwen/Qwen2-VL-7B-Instruct', base_port: 9000, args: ['--max-model-len', 32000] }, 9002, {},
      'vllm serve Qwen/Qwen2-VL-7B-Instruct --host 127.0.0.1 --port 9002 --tensor-parallel-size 1 --served-model-name qwen --max-model-len 32000'],
    ['vllm tp=4', { name: 'nvlm', engine: 'vllm', model: 'nvidia/NVLM-D-72B', tp: 4, base_port: 9000 }, 9000, {},
      'vllm serve nvidia/NVLM-D-72B --host 127.0.0.1 --port 9000 --tensor-parallel-size 4 --served-model-name nvlm'],
    ['lmdeploy', { name: 'dsvl', engine: 'lmdeploy', model: 'deepseek-ai/deepseek-vl-7b-chat', base_port: 9000, args: '--session-len 16000' }, 9001, {},
      'lmdeploy serve api_server deepseek-ai/deepseek-vl-7b-chat --server-name 127.0.0.1 --server-port 9001 --tp 1 --model-name dsvl --session-len 16000'],
    ['vllm binary from the environment', { name: 'q', engine: 'vllm', model: 'Q', base_port: 9000 }, 9000, { SWITCHBOARD_VLLM_BIN: '/opt/venv/bin/vllm' },
      '/opt/venv/bin/vllm serve Q --host 127.0.0.1 --port 9000 --tensor-parallel-size 1 --served-model-name q'],
    ['binary from config wins', { name: 'q', engine: 'lmdeploy', model: 'Q', base_port: 9000, binary: '/x/lmdeploy' }, 9000, { SWITCHBOARD_LMDEPLOY_BIN: '/y' },
      '/x/lmdeploy serve api_server Q --server-name 127.0.0.1 --server-port 9000 --tp 1 --model-name q'],
    ['custom with {port}', { name: 'c', engine: 'custom', base_port: 9000, command: 'python -m sglang.launch_server --model-path M --port {port}', args: ['--tp', 1] }, 9005, {},
      'python -m sglang.launch_server --model-path M --port 9005 --tp 1'],
  ] as [string, any, number, Record<string, string>, string][])('%s', (_n, m, port, env, expected) => {
    expect(replicaCommand(model(m), port, env)?.join(' ')).toBe(expected);
  });
  it('external is not launched', () => {
    expect(replicaCommand(model({ name: 'e', engine: 'external', ports: [1] }), 1, {})).toBeNull();
  });
});

describe('parseNvidiaSmiIndices', () => {
  it.each([
    ['0\n1\n2\n3\n', [0, 1, 2, 3]],
    ['', []],
    ['No devices were found\n', []],
    [' 0 \r\n 1\r\n', [0, 1]],
  ] as [string, number[]][])('%j', (text, expected) => expect(parseNvidiaSmiIndices(text)).toEqual(expected));
});

describe('the documented lab setups (local-agent/examples/*.yaml)', () => {
  const layoutOf = async (file: string, boxGpus: number[] | null = null) => {
    const { loadConfig } = await import('../../local-agent/src/config.js');
    return planReplicas(loadConfig(`${process.cwd()}/local-agent/examples/${file}`), boxGpus).map((p) => `${p.id}:${p.port}:${p.gpus.join(',')}`);
  };
  it.each([
    ['qwen2-vl-4x.yaml', null, ['qwen2-vl-7b#0:9000:0', 'qwen2-vl-7b#1:9001:1', 'qwen2-vl-7b#2:9002:2', 'qwen2-vl-7b#3:9003:3']],
    ['llama-13b-tp2.yaml', null, ['llama-2-13b-chat#0:9000:0,1', 'llama-2-13b-chat#1:9001:2,3']],
    ['deepseek-vl-lmdeploy.yaml', null, ['deepseek-vl-7b-chat#0:9000:0', 'deepseek-vl-7b-chat#1:9001:1', 'deepseek-vl-7b-chat#2:9002:2', 'deepseek-vl-7b-chat#3:9003:3']],
    ['nvlm-72b-tp4.yaml', [0, 1, 2, 3, 4, 5, 6, 7], ['nvlm-d-72b#0:9100:0,1,2,3', 'qwen2-vl-7b#0:9000:4', 'qwen2-vl-7b#1:9001:5', 'qwen2-vl-7b#2:9002:6', 'qwen2-vl-7b#3:9003:7']],
    ['custom-and-external.yaml', null, ['qwen2.5-7b-sglang#0:9200:0', 'qwen2.5-7b-sglang#1:9201:1', 'internvl2-8b#0:8080:', 'internvl2-8b#1:8081:']],
  ] as [string, number[] | null, string[]][])('%s', async (file, gpus, expected) => expect(await layoutOf(file, gpus)).toEqual(expected));

  it('the Qwen2-VL command line is what the lab ran, with the JSON form of the image limit', async () => {
    const { loadConfig } = await import('../../local-agent/src/config.js');
    const config = loadConfig(`${process.cwd()}/local-agent/examples/qwen2-vl-4x.yaml`);
    expect(replicaCommand(config.models[0], 9003, {})).toEqual([
      'vllm', 'serve', 'Qwen/Qwen2-VL-7B-Instruct', '--host', '127.0.0.1', '--port', '9003', '--tensor-parallel-size', '1',
      '--served-model-name', 'qwen2-vl-7b', '--max-model-len', '32000', '--trust-remote-code', '--limit-mm-per-prompt', '{"image": 10}',
    ]);
  });
});
