import { badRequest } from '../../openai/errors';
import { newSpliceNonce, spliceMarker, splicePayloads } from '../splice-payloads';
import type { GeminiBlob, GenerateContentRequest } from './types';

// The request body as JSON text, without JSON.stringify scanning the image payloads.
// Ten screenshots are ~40 MB of base64; stringifying them costs ~250 ms of CPU on a
// small machine, although base64 never needs escaping. So the images resolved (and
// validated as base64) by resolve-images.ts are left out of the stringify and spliced
// into the text as they are; the result is byte-for-byte what JSON.stringify gives.

/**
 * @param verbatim blobs whose `data` is known to be plain base64 (JSON-safe): the
 *   resolved images. Any other inlineData (audio, files) is stringified as usual.
 */
export function serializeGeminiRequest(body: GenerateContentRequest, verbatim: Iterable<GeminiBlob>): Blob | string {
  const splice = new Set<unknown>(verbatim);
  const nonce = newSpliceNonce();
  const payloads: string[] = [];
  let json: string;
  try {
    json = JSON.stringify(body, function (this: unknown, key, value) {
      if (key === 'data' && typeof value === 'string' && splice.has(this)) {
        payloads.push(value);
        return spliceMarker(nonce, payloads.length - 1);
      }
      return value;
    });
  } catch {
    throw badRequest('The request body is nested too deeply.', null, 'invalid_json');
  }
  if (payloads.length === 0) return json;
  // A Blob encodes the parts one by one: no 40 MB string is built to be encoded again.
  return new Blob(splicePayloads(json, nonce, payloads), { type: 'application/json' });
}
