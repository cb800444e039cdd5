// Request bodies with their base64 image payloads left out of JSON.stringify: the
// serializers put a per-request marker in each payload's place and splice the payloads
// back into the text verbatim (base64 needs no escaping; data-url.ts refuses payloads with
// a `"` or `\`). Used for Claude (serialize-anthropic-request.ts) and Gemini (serialize.ts).

/** A marker prefix no text in a request can produce. */
export const newSpliceNonce = () => `\u0000${crypto.randomUUID()}:`;

/** The placeholder stringified in place of payload `index`. */
export const spliceMarker = (nonce: string, index: number) => `${nonce}${index}`;

/** `json` cut at each payload's marker, with the payload (quoted) in its place: join or Blob the parts. */
export function splicePayloads(json: string, nonce: string, payloads: readonly string[]): string[] {
  const parts: string[] = [];
  let from = 0;
  payloads.forEach((payload, i) => {
    const marker = JSON.stringify(spliceMarker(nonce, i));
    const at = json.indexOf(marker, from);
    parts.push(json.slice(from, at), '"', payload, '"');
    from = at + marker.length;
  });
  parts.push(json.slice(from));
  return parts;
}
