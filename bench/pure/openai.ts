// Bundled by bench/translation.ts with esbuild (so the extensionless src/ imports resolve);
// not run by Node directly. Each file here exposes the same three pure steps of one provider.
import { parseChatRequest } from '../../src/openai/parse-chat-request';
import { serializeRequest } from '../../src/providers/openai';
import { upstreamModel } from '../models.ts';

/** Client body → the body sent upstream (a pass-through: validated, model swapped, re-serialised). */
export function request(text: string): string {
  const parsed = parseChatRequest(text);
  return serializeRequest({ ...parsed, model: upstreamModel('openai') });
}

export { parseChatRequest };
