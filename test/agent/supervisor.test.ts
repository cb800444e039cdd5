import { createServer } from 'node:net';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { validateConfig } from '../../local-agent/src/config.js';
import { planReplicas } from '../../local-agent/src/plan.js';
import { isAlive } from '../../local-agent/src/process-group.js';
import { Supervisor, backoffDelay } from '../../local-agent/src/supervisor.js';
import { fastTimings, freePorts, lmdeployBin, mockStats, tempDir, vllmBin, waitFor } from './helpers';

// The supervisor driving real mock-engine processes through the real launch path
// (the `vllm` / `lmdeploy` command lines), with millisecond timings.

const running: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

function supervise(models: any[], extra: Record<string, unknown> = {}) {
  const config = validateConfig({ gpus: [0, 1, 2, 3], state_dir: tempDir(), ...fastTimings, ...extra, models }, { baseDir: '/' });
  const lines: string[] = [];
  const supervisor = new Supervisor(planReplicas(config, null), config, { log: (l: string) => lines.push(l) });
  // On a timeout, the states and log lines say where it stuck.
  onTestFailed(() => console.error(supervisor.replicas.map((r) => `${r.id} ${r.state} restarts=${r.restarts} ${r.lastError?.message ?? ''}`).join('\n'), `\n${lines.join('\n')}`));
  running.push(supervisor);
  supervisor.start();
  return { supervisor, lines };
}

const allReady = (s: Supervisor) => s.replicas.every((r) => r.state === 'ready');

describe('backoffDelay', () => {
  it.each([[1, 100], [2, 200], [3, 400], [4, 800], [5, 1000], [20, 1000]])('failure %i → %i ms', (n, ms) => expect(backoffDelay(n, 100, 1000)).toBe(ms));
});

describe('Supervisor', () => {
  it('starts 4 replicas, each on its GPU and port; a killed replica is restarted and its worker cleaned up', async () => {
    const base = await freePorts(4);
    const { supervisor, lines } = supervise([
      { name: 'qwen2-vl-7b', engine: 'vllm', binary: vllmBin, model: 'Qwen/Qwen2-VL-7B-Instruct', replicas: 4, base_port: base,
        args: ['--max-model-len', 32000, '--trust-remote-code', '--limit-mm-per-prompt', '{"image": 10}'], env: { MOCK_READY_DELAY_MS: 150 } },
    ]);
    expect(supervisor.replicas.map((r) => r.state)).toEqual(['starting', 'starting', 'starting', 'starting']);
    await waitFor(() => allReady(supervisor), 'all replicas ready');
    const stats = await Promise.all(supervisor.replicas.map((r) => mockStats(r.port)));
    expect(stats.map((s) => s.gpus)).toEqual(['0', '1', '2', '3']);
    expect(stats.map((s) => s.served)).toEqual(Array(4).fill('qwen2-vl-7b'));
    expect(supervisor.replicas.map((r) => r.pid)).toEqual(stats.map((s) => s.pid));

    const victim = supervisor.replicas[2];
    await fetch(`http://127.0.0.1:${victim.port}/mock/crash`, { method: 'POST' });
    await waitFor(() => victim.state !== 'ready', 'the crash to be noticed');
    await waitFor(() => victim.state === 'ready' && victim.restarts === 1, 'the replica to be restarted');
    expect(victim.pid).not.toBe(stats[2].pid);
    expect(isAlive(stats[2].pid)).toBe(false);
    expect(isAlive(stats[2].childPid)).toBe(false); // the crashed engine's forked worker does not hold the GPU
    expect(victim.lastError?.message).toBe('engine exited with code 1');
    expect(victim.lastError?.logTail.join('\n')).toContain('illegal memory access');
    expect(lines.some((l) => l.includes('restarting in'))).toBe(true);
    expect(supervisor.replicas.filter((r) => r !== victim).every((r) => r.restarts === 0)).toBe(true);
  });

  it('a hung engine (health checks time out) is killed and restarted', async () => {
    const base = await freePorts(1);
    const { supervisor } = supervise([{ name: 'm', engine: 'vllm', binary: vllmBin, model: 'M', base_port: base }], {
      health: { interval: '50ms', timeout: '100ms', failures: 2 }, stop_grace: '100ms',
    });
    const replica = supervisor.replicas[0];
    await waitFor(() => replica.ready, 'ready');
    const hung = await mockStats(base);
    process.kill(hung.pid, 'SIGSTOP');
    await waitFor(() => replica.ready && replica.restarts === 1, 'the restart');
    expect(replica.lastError?.message).toBe('unhealthy: /health failed 2 time(s) in a row');
    expect([hung.pid, hung.childPid].filter((pid) => isAlive(pid))).toEqual([]);
  });

  it('stop: SIGTERM to each process group; nothing is left, forked workers included', async () => {
    const base = await freePorts(2);
    const { supervisor } = supervise([{ name: 'm', engine: 'vllm', binary: vllmBin, model: 'M', replicas: 2, base_port: base }]);
    await waitFor(() => allReady(supervisor), 'ready');
    const stats = await Promise.all(supervisor.replicas.map((r) => mockStats(r.port)));
    const pids = stats.flatMap((s) => [s.pid, s.childPid]);
    expect(pids.every((pid) => isAlive(pid))).toBe(true);
    await supervisor.stop();
    expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
    expect(supervisor.replicas.map((r) => r.state)).toEqual(['stopped', 'stopped']);
  });

  it('stop: an engine that ignores SIGTERM is killed after the grace period', async () => {
    const base = await freePorts(1);
    const { supervisor } = supervise([{ name: 'm', engine: 'vllm', binary: vllmBin, model: 'M', base_port: base, env: { MOCK_IGNORE_SIGTERM: 1 } }], { stop_grace: '200ms' });
    await waitFor(() => allReady(supervisor), 'ready');
    const s = await mockStats(base);
    await supervisor.stop();
    expect([s.pid, s.childPid].filter((pid) => isAlive(pid))).toEqual([]);
  });

  it('an engine that exits during start-up is reported at once with its output, not restarted', async () => {
    const base = await freePorts(1);
    // vLLM ≥ 0.10 rejects the older form of this flag.
    const { supervisor, lines } = supervise([{ name: 'qwen', engine: 'vllm', binary: vllmBin, model: 'Q', base_port: base, args: ['--limit-mm-per-prompt', 'image=10'] }]);
    const replica = supervisor.replicas[0];
    await waitFor(() => replica.state === 'failed', 'the start-up failure');
    expect(replica.lastError?.message).toBe('engine exited with code 2 during start-up');
    expect(replica.lastError?.logTail.join('\n')).toContain('argument --limit-mm-per-prompt: Value image=10 cannot be converted');
    expect(lines.join('\n')).toMatch(/qwen#0 failed to start: engine exited with code 2 during start-up\n {2}last lines of .*qwen-0\.log:\n[\s\S]*usage: vllm serve/);
    expect(replica.launches).toBe(1);
  });

  it('a crash loop stops being retried and is reported with the log tail', async () => {
    const base = await freePorts(1);
    const { supervisor, lines } = supervise([{ name: 'm', engine: 'vllm', binary: vllmBin, model: 'M', base_port: base, env: { MOCK_CRASH_AFTER_MS: 300 } }]); // long enough to be seen ready first: a crash during start-up is a start-up failure
    const replica = supervisor.replicas[0];
    await waitFor(() => replica.state === 'crash-loop', 'the crash loop', 15_000);
    expect(replica.consecutiveFailures).toBe(3); // crash_loop_restarts: 2 restarts, then give up
    expect(replica.restarts).toBe(2);
    expect(replica.lastError?.logTail.join('\n')).toContain('CUDA error: out of memory');
    expect(lines.some((l) => l.includes('m#0 is crash-looping (3 failures in a row), not restarting'))).toBe(true);
  });

  it('missing engine binary, taken port: clear start-up errors; other replicas unaffected', async () => {
    const base = await freePorts(3);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(base + 1, '127.0.0.1', r));
    try {
      const { supervisor } = supervise([
        { name: 'nobin', engine: 'vllm', binary: '/nonexistent/vllm', model: 'M', base_port: base },
        { name: 'taken', engine: 'vllm', binary: vllmBin, model: 'M', base_port: base + 1 },
        { name: 'fine', engine: 'lmdeploy', binary: lmdeployBin, model: 'deepseek-ai/deepseek-vl-7b-chat', base_port: base + 2, args: '--session-len 16000' },
      ]);
      const [nobin, taken, fine] = supervisor.replicas;
      await waitFor(() => nobin.state === 'failed' && taken.state === 'failed' && fine.state === 'ready', 'the outcomes');
      expect(nobin.lastError?.message).toBe('engine binary "/nonexistent/vllm" not found (install it, or set `binary:` for this model or SWITCHBOARD_VLLM_BIN)');
      expect(taken.lastError?.message).toBe(`port ${base + 1} is already in use by another process`);
      expect((await mockStats(base + 2)).served).toBe('fine');
    } finally {
      blocker.close();
    }
  });

  it('a replica not ready within readiness_timeout is stopped and retried with backoff; status shows loading time', async () => {
    const base = await freePorts(1);
    const { supervisor } = supervise([{ name: 'slow', engine: 'vllm', binary: vllmBin, model: 'M', base_port: base, readiness_timeout: '150ms', env: { MOCK_READY_DELAY_MS: 60_000 } }]);
    const replica = supervisor.replicas[0];
    await waitFor(() => replica.snapshot().loadingMs! > 0, 'loading time');
    await waitFor(() => replica.state === 'backoff', 'the readiness timeout');
    expect(replica.lastError?.message).toBe('not ready within 150ms (readiness_timeout): /health and /v1/models did not answer');
  });

  it('an external server is checked, not started: ready while it answers, unhealthy when it stops', async () => {
    const base = await freePorts(1);
    const engine = supervise([{ name: 'own', engine: 'vllm', binary: vllmBin, model: 'M', base_port: base }]).supervisor;
    await waitFor(() => allReady(engine), 'the engine');
    const { supervisor } = supervise([{ name: 'own', engine: 'external', ports: [base] }]);
    const ext = supervisor.replicas[0];
    await waitFor(() => ext.state === 'ready', 'external ready');
    expect(ext.pid).toBeNull();
    await engine.stop();
    await waitFor(() => ext.state !== 'ready', 'external unhealthy');
    expect(ext.lastError?.message).toMatch(/unhealthy: \/v1\/models failed 2 time/);
  });
});
