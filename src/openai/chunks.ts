import type { GatewayError } from './errors';
import type { ChatCompletionChunk, ChunkChoice, Usage } from './types';

/** What every chunk and response of one completion shares. */
export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

export function newCompletionMeta(model: string, upstreamId?: string): CompletionMeta {
  return {
    id: upstreamId ? `chatcmpl-${upstreamId}` : `chatcmpl-${crypto.randomUUID().replace(/-/g, '')}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
}

export function chunk(meta: CompletionMeta, choices: ChunkChoice[], usage?: Usage): ChatCompletionChunk {
  const c: ChatCompletionChunk = { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices };
  if (usage) c.usage = usage;
  return c;
}

/** The last chunk of a stream that failed after it began; the openai SDK raises it as an APIError. */
export function errorChunk(meta: CompletionMeta, error: GatewayError): ChatCompletionChunk {
  return { ...chunk(meta, []), error: error.toErrorObject() };
}
