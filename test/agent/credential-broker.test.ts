import { afterEach, describe, expect, it, vi } from 'vitest';
import { CredentialBroker, credentialErrorOf } from '../../local-agent/src/credential-broker.js';
import { validateConfig } from '../../local-agent/src/config.js';

// The agent's side of an agent-brokered Azure credential, without a gateway: how it reads
// Azure CLI failures, when it refreshes on its own, and the config it takes.

describe('credentialErrorOf', () => {
  it.each([
    [
      'az: refresh token expired (AADSTS700082), identifiers dropped',
      new Error('ERROR: AADSTS700082: The refresh token has expired due to inactivity. Trace ID: 5c1d Correlation ID: 9a8b Timestamp: 2026-11-26 12:00:00Z\nInteractive authentication is needed. Please run:\naz login --scope https://cognitiveservices.azure.com/.default'),
      { code: 'login_required', message: 'AADSTS700082: The refresh token has expired due to inactivity. Interactive authentication is needed. Please run: az login --scope https://cognitiveservices.azure.com/.default' },
    ],
    ['@azure/identity: never logged in', new Error("Please run 'az login' from a command prompt to authenticate before using this credential."), { code: 'login_required', message: "Please run 'az login' from a command prompt to authenticate before using this credential." }],
    ['MFA required again (AADSTS50076)', new Error('AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.'), { code: 'login_required', message: 'AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.' }],
    ['az not installed', new Error('Azure CLI could not be found. Please visit https://aka.ms/azure-cli for installation instructions.'), { code: 'credential_unavailable', message: 'Azure CLI could not be found. Please visit https://aka.ms/azure-cli for installation instructions.' }],
    ['a string', 'boom', { code: 'credential_unavailable', message: 'boom' }],
  ])('%s', (_name, error, expected) => expect(credentialErrorOf(error)).toEqual(expected));
});

describe('CredentialBroker refreshes on its own', () => {
  afterEach(() => vi.useRealTimers());

  it('asks the CLI again 5 minutes before expiry, once for concurrent askers', async () => {
    vi.useFakeTimers({ now: 0 });
    let calls = 0;
    const credential = { getToken: vi.fn(async () => ({ token: `t${++calls}`, expiresOnTimestamp: Date.now() + 3_600_000 })) };
    const broker = new CredentialBroker({ name: 'lab', url: 'ws://unused', token: 'x', host: 'box', credential, heartbeatMs: 1000, reconnectInitialMs: 10, reconnectMaxMs: 100, log: () => {} });
    const [a, b] = await Promise.all([broker.currentToken(), broker.currentToken()]);
    expect([a.token, b.token]).toEqual(['t1', 't1']);
    expect((await broker.currentToken()).token).toBe('t1');
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(3_600_000 - 5 * 60_000 - 1);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    expect((await broker.currentToken()).token).toBe('t2');
    broker.close();
  });

  it('after a failed refresh, tries again a minute later and reports login_required', async () => {
    vi.useFakeTimers({ now: 0 });
    const lines: string[] = [];
    let fail = true;
    const credential = { getToken: vi.fn(async () => (fail ? Promise.reject(new Error("Please run 'az login' from a command prompt to authenticate before using this credential.")) : { token: 'ok', expiresOnTimestamp: Date.now() + 3_600_000 })) };
    const broker = new CredentialBroker({ name: 'lab', url: 'ws://unused', token: 'x', host: 'gpu-box-7', credential, heartbeatMs: 1000, reconnectInitialMs: 10, reconnectMaxMs: 100, log: (l: string) => lines.push(l) });
    await expect(broker.currentToken()).rejects.toMatchObject({ code: 'login_required' });
    expect(lines.join('\n')).toContain('run `az login` here');
    expect(lines.join('\n')).toContain('gpu-box-7');
    fail = false;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(credential.getToken).toHaveBeenCalledTimes(2);
    expect((await broker.currentToken()).token).toBe('ok');
    broker.close();
  });
});

describe('azure_credentials in agent.yaml', () => {
  const gateway = { url: 'ws://gw:8787' };
  it('is a list of named credentials; a box may broker credentials and serve no model', () => {
    expect(validateConfig({ gateway, azure_credentials: [{ name: 'lab-azure', tenant_id: 'contoso.onmicrosoft.com' }] }).azureCredentials).toEqual([
      { name: 'lab-azure', tenantId: 'contoso.onmicrosoft.com', subscription: null },
    ]);
  });

  it.each([
    ['a name with spaces', { gateway, azure_credentials: [{ name: 'lab azure' }] }, /azure_credentials\[0\]\.name: required/],
    ['no gateway', { azure_credentials: [{ name: 'lab' }] }, /azure_credentials: needs a gateway section/],
    ['an unknown setting', { gateway, azure_credentials: [{ name: 'lab', secret: 'x' }] }, /azure_credentials\[0\]\.secret: unknown setting/],
    ['a name twice', { gateway, azure_credentials: [{ name: 'lab' }, { name: 'lab' }] }, /"lab" is listed twice/],
    ['not a list', { gateway, azure_credentials: 'lab' }, /azure_credentials: must be a list/],
  ])('rejects %s', (_name, doc, message) => expect(() => validateConfig(doc)).toThrow(message));
});
