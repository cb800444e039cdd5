// The Messages API body as JSON text, without JSON.stringify walking the image payloads.
// In workerd, JSON.stringify of a base64 payload that is a slice of the data: URL the
// client sent (which is what the translation keeps: no copy) takes its slow path, ≈ 3×
// the time of a fresh string: ≈ 70 µs more for three 25 KB screenshots, and it grows with
// the images. So each base64 image is left out of the stringify (a short marker takes
// its place) and spliced into the text as it is. Base64 needs no escaping; a payload
// with a `"` or `\` (malformed: the parse does not scan every character) is stringified
// as usual, so the text is always valid JSON with the same structure, and for any real
// payload byte for byte what JSON.stringify gives.

import { newSpliceNonce, spliceMarker, splicePayloads } from '../splice-payloads';

interface Base64Source {
  type: 'base64';
  data: string;
}

type Block = { type?: unknown; source?: unknown; content?: unknown };

const isSplicable = (source: unknown): source is Base64Source => {
  const s = source as Partial<Base64Source> | null | undefined;
  return typeof s === 'object' && s !== null && s.type === 'base64' && typeof s.data === 'string' && !s.data.includes('"') && !s.data.includes('\\');
};

/** `body` (a Messages API request) as JSON text: the same as JSON.stringify(body), image payloads copied verbatim. */
export function serializeAnthropicRequest(body: { messages: readonly unknown[] } & Record<string, unknown>): string {
  const payloads: string[] = [];
  const nonce = newSpliceNonce();
  const swap = (block: Block): Block => {
    if (block?.type === 'image' && isSplicable(block.source)) {
      payloads.push(block.source.data);
      return { ...block, source: { ...block.source, data: spliceMarker(nonce, payloads.length - 1) } };
    }
    if (block?.type === 'tool_result' && Array.isArray(block.content)) {
      const content = swapAll(block.content);
      return content === block.content ? block : { ...block, content };
    }
    return block;
  };
  const swapAll = (blocks: Block[]): Block[] => {
    const before = payloads.length;
    const out = blocks.map(swap);
    return payloads.length === before ? blocks : out;
  };
  const messages = body.messages.map((m) => {
    const message = m as { content?: unknown };
    if (!Array.isArray(message?.content)) return m;
    const content = swapAll(message.content);
    return content === message.content ? m : { ...message, content };
  });
  if (payloads.length === 0) return JSON.stringify(body);
  return splicePayloads(JSON.stringify({ ...body, messages }), nonce, payloads).join('');
}
