import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { configuredTestSecrets, secretsInLog } from '../../scripts/check-log-secrets.mjs';

const ISSUED_KEY = `sk-sb-${'A'.repeat(43)}`;
const ISSUED_TOKEN = `sb-agent-${'b'.repeat(43)}`;

describe('check-log-secrets', () => {
  it('passes a clean log', () => {
    expect(secretsInLog('GET /v1/models 200\nkey_0123abcd revoked\n', ['sk-test-secret-value'])).toEqual([]);
  });

  it('finds issued keys and tokens by their shape, with the line', () => {
    const log = `start\nkey ${ISSUED_KEY}\n\x1b[31m${ISSUED_TOKEN}\x1b[0m\n`;
    expect(secretsInLog(log, [])).toEqual([
      { what: 'an issued gateway key', line: 2 },
      { what: 'an issued agent token', line: 3 },
    ]);
  });

  it('finds a configured test secret, naming only its first characters', () => {
    const found = secretsInLog('a\nb\nupstream said: bad key sk-ant-api03-abcdef0123\n', ['sk-ant-api03-abcdef0123']);
    expect(found).toEqual([{ what: 'the test secret sk-ant…', line: 3 }]);
  });

  it('collects the secrets the test suite configures', () => {
    const secrets = configuredTestSecrets();
    expect(secrets).toContain('sk-switchboard-test-key');
    expect(secrets.length).toBeGreaterThan(10);
  });
});
