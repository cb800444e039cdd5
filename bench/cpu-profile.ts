// A V8 CPU profile of the user Worker in a Miniflare (its inspector port), and the
// summary bench/profile.ts and bench/in-memory.ts print of it.

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Starts the profiler on the user Worker (Miniflare also lists its own internal workers); stop() returns the profile. */
export async function userWorkerInspector(inspectorPort: number, intervalMicros = 100): Promise<{ stop(): Promise<CpuProfile> }> {
  const list = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as { title: string; webSocketDebuggerUrl: string }[];
  const entry = list.find((e) => e.title.startsWith('workerd: worker core:user:'));
  if (!entry) throw new Error(`no user worker among the inspector targets: ${list.map((e) => e.title).join(', ')}`);
  const ws = new WebSocket(entry.webSocketDebuggerUrl.replace('localhost', '127.0.0.1'));
  await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
  let nextId = 0;
  const waiting = new Map<number, (result: any) => void>();
  ws.onmessage = (m) => {
    const message = JSON.parse(String(m.data));
    if (message.id) waiting.get(message.id)?.(message.result ?? message.error);
  };
  const cdp = (method: string, params: object = {}) =>
    new Promise<any>((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await cdp('Profiler.enable');
  await cdp('Profiler.setSamplingInterval', { interval: intervalMicros });
  await cdp('Profiler.start');
  return {
    async stop() {
      const { profile } = await cdp('Profiler.stop');
      ws.close();
      return profile as CpuProfile;
    },
  };
}

/** Self and inclusive time per function, in µs per request. */
export function printTop(profile: CpuProfile, requests: number, top: number) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}` : '(native)'}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(name(nodes.get(id)!), (self.get(name(nodes.get(id)!)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = name(nodes.get(at)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  });
  for (const [title, totals] of [['self', self], ['inclusive', inclusive]] as const) {
    console.log(`µs per request, ${title}`);
    for (const [key, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / requests).toFixed(1).padStart(9)}  ${key}`);
    console.log('');
  }
}
