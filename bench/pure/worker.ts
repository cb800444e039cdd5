// A Worker that runs one pure translation step `n` times on the request body, for
// timing translation inside workerd (bench/translation.ts). Bundled with esbuild; the
// generated entry passes in the modules of bench/pure/ that bundled.

type Step = (input: any, maxImageBytes: number) => unknown;

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

export function timingWorker(modules: Record<string, Record<string, Step>>) {
  return {
    async fetch(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const [name, step] = (url.searchParams.get('case') ?? '').split('.');
      const fn = modules[name]?.[step];
      if (!fn) return new Response(`no case ${name}.${step}`, { status: 404 });
      const n = Number(url.searchParams.get('n') ?? '1');
      const text = await request.text();
      const input = step === 'stream' ? JSON.parse(text) : text;
      let size = 0;
      for (let i = 0; i < n; i++) {
        const out = await fn(input, MAX_IMAGE_BYTES);
        size += typeof out === 'string' ? out.length : Number(out) || 0;
      }
      return new Response(String(size));
    },
  };
}
