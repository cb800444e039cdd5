// The box's GPUs, from nvidia-smi. No nvidia-smi (or no driver) means none detected,
// not a crash: the config may list GPUs itself, and external models need none.

import { execFile } from 'node:child_process';

/** @returns {Promise<{gpus: number[]|null, reason?: string}>} */
export function detectGpus(binary = process.env.SWITCHBOARD_NVIDIA_SMI || 'nvidia-smi') {
  return new Promise((resolve) => {
    execFile(binary, ['--query-gpu=index', '--format=csv,noheader'], { timeout: 10_000 }, (error, stdout) => {
      if (error) {
        const reason = error.code === 'ENOENT' ? `${binary} not found` : `${binary} failed: ${String(error.message).split('\n')[0]}`;
        resolve({ gpus: null, reason });
        return;
      }
      resolve({ gpus: parseNvidiaSmiIndices(stdout) });
    });
  });
}

/** "0\n1\n" → [0, 1]; lines that are not indices are ignored. */
export function parseNvidiaSmiIndices(text) {
  return text.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l)).map(Number);
}
