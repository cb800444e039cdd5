// Bundled by bench/translation.ts with esbuild; not run by Node directly.
export { parseChatRequest } from '../../src/openai/parse-chat-request';
export { providers } from '../../src/providers';
export { catalogFor } from '../../src/routing/catalog';
