import { buildWorkerBundle } from './gateway';

/** Bundles the Worker once per test run; each test file starts its own Miniflare on that bundle. */
export default async function setup() {
  await buildWorkerBundle();
}
