import { Worker } from 'node:worker_threads';
import type { RateLimitRule } from './mock-upstream.ts';

// The harness's handle on bench/mock-upstream.ts, which runs in its own thread.

export type { RateLimitRule };

export interface PathCount {
  calls: number;
  ok: number;
  rateLimited: number;
}

export interface LastRequest {
  path: string;
  body: string;
  headers: Record<string, unknown>;
}

export interface MockUpstream {
  url: string;
  last(route: 'openai' | 'anthropic' | 'gemini'): Promise<LastRequest | null>;
  counts(): Promise<Record<string, number>>;
  /** Sets the scripted 429s (none: []) and restarts the per-path counts. */
  rateLimit(rules: RateLimitRule[]): Promise<void>;
  /** Calls per path since the last rateLimit(): answered (ok) and 429. */
  paths(): Promise<Record<string, PathCount>>;
  /** When each request since the last call was received whole and answered (first bytes written), ms since the epoch. */
  timeline(): Promise<{ received: number; answered: number; newSocket: boolean }[]>;
  close(): Promise<void>;
}

export async function startMockUpstream(): Promise<MockUpstream> {
  const worker = new Worker(new URL('./mock-upstream.ts', import.meta.url));
  const pending = new Map<number, (value: any) => void>();
  let nextId = 1;
  worker.on('message', (message: { id: number; value: unknown }) => {
    pending.get(message.id)?.(message.value);
    pending.delete(message.id);
  });
  // The thread's first message (id 0) is the URL it listens on.
  const url = await new Promise<string>((resolve, reject) => {
    pending.set(0, resolve);
    worker.once('error', reject);
  });
  const ask = (type: string, extra: object = {}) =>
    new Promise<any>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage({ id, type, ...extra });
    });
  return {
    url,
    last: (route) => ask('last', { route }),
    counts: () => ask('counts'),
    rateLimit: (rules) => ask('rateLimit', { rules }),
    paths: () => ask('paths'),
    timeline: () => ask('timeline'),
    close: async () => {
      await ask('close');
      await worker.terminate();
    },
  };
}
