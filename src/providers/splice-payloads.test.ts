import { describe, expect, it } from 'vitest';
import { newSpliceNonce, spliceMarker, splicePayloads } from './splice-payloads';

describe('splicePayloads', () => {
  it('puts each payload, quoted, where its marker was stringified, in order', () => {
    const nonce = newSpliceNonce();
    const body = { a: [{ data: spliceMarker(nonce, 0) }, { data: spliceMarker(nonce, 1) }], text: 'after' };
    const parts = splicePayloads(JSON.stringify(body), nonce, ['iVBORw0KGgo=', '/9j/4AAQ']);
    expect(parts.join('')).toBe(JSON.stringify({ a: [{ data: 'iVBORw0KGgo=' }, { data: '/9j/4AAQ' }], text: 'after' }));
  });

  it('leaves text without payloads as it is', () => {
    expect(splicePayloads('{"a":1}', newSpliceNonce(), [])).toEqual(['{"a":1}']);
  });

  it('cannot be fooled by text that looks like a marker of another request', () => {
    const nonce = newSpliceNonce();
    const other = newSpliceNonce();
    const body = { text: spliceMarker(other, 0), data: spliceMarker(nonce, 0) };
    expect(JSON.parse(splicePayloads(JSON.stringify(body), nonce, ['QUJD']).join(''))).toEqual({ text: spliceMarker(other, 0), data: 'QUJD' });
  });
});
