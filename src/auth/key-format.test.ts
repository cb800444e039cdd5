import { describe, expect, it } from 'vitest';
import { AGENT_TOKEN_PREFIX, isAgentTokenFormat, isStoredKeyFormat, KEY_PREFIX, keyHash, newAgentToken, newAgentTokenId, newGatewayKey, newKeyId, toHex } from './key-format';

describe('newGatewayKey', () => {
  const bytes = (fill: number) => new Uint8Array(32).fill(fill);
  const cases: [name: string, random: Uint8Array, expected: string][] = [
    ['all zero bytes', bytes(0), `sk-sb-${'A'.repeat(42)}A`],
    ['all 0xff: base64url, not base64 (no + / =)', bytes(0xff), `sk-sb-${'_'.repeat(42)}8`],
    ['0xfb bytes give "-" where base64 has "+"', bytes(0xfb), `sk-sb-${'-_v7'.repeat(10)}-_s`],
  ];
  it.each(cases)('%s', (_name, random, expected) => expect(newGatewayKey(random)).toBe(expected));

  it('makes a key of the stored format from fresh randomness, a different one each time', () => {
    const a = newGatewayKey();
    const b = newGatewayKey();
    expect(a.startsWith(KEY_PREFIX)).toBe(true);
    expect(isStoredKeyFormat(a)).toBe(true);
    expect(a).not.toBe(b);
  });

  it('refuses randomness of the wrong size', () => expect(() => newGatewayKey(new Uint8Array(16))).toThrow());
});

describe('isStoredKeyFormat', () => {
  const good = newGatewayKey(new Uint8Array(32).fill(7));
  const cases: [name: string, key: string, expected: boolean][] = [
    ['a generated key', good, true],
    ['GATEWAY_KEYS-style key', 'sk-switchboard-test-key', false],
    ['the prefix only', 'sk-sb-', false],
    ['one character short', good.slice(0, -1), false],
    ['one character long', `${good}A`, false],
    ['base64 padding', `${good.slice(0, -1)}=`, false],
    ['upper-case prefix', good.replace('sk-sb-', 'SK-SB-'), false],
    ['a space inside', `${good.slice(0, 10)} ${good.slice(11)}`, false],
    ['empty', '', false],
  ];
  it.each(cases)('%s → %s', (_name, key, expected) => expect(isStoredKeyFormat(key)).toBe(expected));
});

describe('keyHash', () => {
  const cases: [input: string, expected: string][] = [
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ];
  it.each(cases)('SHA-256 of %j as hex', async (input, expected) => expect(await keyHash(input)).toBe(expected));

  it('never contains the key', async () => {
    const key = newGatewayKey();
    expect(await keyHash(key)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('ids', () => {
  it('toHex pads every byte', () => expect(toHex(new Uint8Array([0, 1, 0xab, 0xff]))).toBe('0001abff'));
  it('newKeyId is key_ and 24 hex digits', () => {
    expect(newKeyId(new Uint8Array(12).fill(0x0f))).toBe(`key_${'0f'.repeat(12)}`);
    expect(newKeyId()).toMatch(/^key_[0-9a-f]{24}$/);
  });
});

describe('agent tokens', () => {
  const good = newAgentToken(new Uint8Array(32).fill(7));
  it('newAgentToken: sb-agent- and 32 bytes as base64url', () => {
    expect(newAgentToken(new Uint8Array(32))).toBe(`sb-agent-${'A'.repeat(43)}`);
    expect(newAgentToken(new Uint8Array(32).fill(0xff))).toBe(`sb-agent-${'_'.repeat(42)}8`);
    const fresh = newAgentToken();
    expect(fresh.startsWith(AGENT_TOKEN_PREFIX)).toBe(true);
    expect(fresh).not.toBe(newAgentToken());
    expect(() => newAgentToken(new Uint8Array(31))).toThrow();
  });

  const cases: [name: string, token: string, expected: boolean][] = [
    ['a generated token', good, true],
    ['a gateway key is not an agent token', newGatewayKey(new Uint8Array(32).fill(7)), false],
    ['an AGENT_TOKENS-style token', 'agent-token-for-tests', false],
    ['the prefix only', 'sb-agent-', false],
    ['one character short', good.slice(0, -1), false],
    ['one character long', `${good}A`, false],
    ['upper-case prefix', good.replace('sb-agent-', 'SB-AGENT-'), false],
  ];
  it.each(cases)('isAgentTokenFormat: %s → %s', (_name, token, expected) => expect(isAgentTokenFormat(token)).toBe(expected));

  it('a gateway key is not of the agent-token format, nor the reverse', () => expect(isStoredKeyFormat(good)).toBe(false));

  it('newAgentTokenId is atk_ and 24 hex digits', () => {
    expect(newAgentTokenId(new Uint8Array(12).fill(0xa0))).toBe(`atk_${'a0'.repeat(12)}`);
    expect(newAgentTokenId()).toMatch(/^atk_[0-9a-f]{24}$/);
  });
});
