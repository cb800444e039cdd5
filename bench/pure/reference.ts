// Bundled by bench/translation.ts with esbuild; not run by Node directly.

/** JSON.parse + JSON.stringify of the client body: the least any re-serialising gateway pays. */
export function request(text: string): string {
  return JSON.stringify(JSON.parse(text));
}
