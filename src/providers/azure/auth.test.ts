import { describe, expect, it } from 'vitest';
import type { Env } from '../../env';
import { authKind, azureAuth, azureAuthConfigured, servicePrincipal } from './auth';

// Which sign-in an Azure deployment uses and whether it has what that needs.

const env = (vars: Record<string, unknown>) => vars as unknown as Env;

describe('authKind', () => {
  it.each([
    [undefined, { kind: 'api_key' }],
    ['api_key', { kind: 'api_key' }],
    ['entra', { kind: 'entra' }],
    ['agent:lab-azure', { kind: 'agent', name: 'lab-azure' }],
    ['agent:', { kind: 'unknown', value: 'agent:' }],
    ['Entra', { kind: 'unknown', value: 'Entra' }],
    [42, { kind: 'unknown', value: '42' }],
  ])('%s', (auth, expected) => expect(authKind(auth === undefined ? {} : { auth: auth as string })).toEqual(expected));
});

describe('servicePrincipal', () => {
  it('takes tenant and client from the deployment, the secret from the secret it names', () => {
    expect(servicePrincipal(env({ SP_SECRET: 's3cret', AZURE_TENANT_ID: 'ignored' }), { tenant_id: 't', client_id: 'c', client_secret_secret: 'SP_SECRET' })).toEqual({
      authorityHost: 'https://login.microsoftonline.com',
      tenantId: 't',
      clientId: 'c',
      clientSecret: 's3cret',
      secretName: 'SP_SECRET',
    });
  });

  it('defaults to AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_AUTHORITY_HOST', () => {
    expect(servicePrincipal(env({ AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c', AZURE_CLIENT_SECRET: 'x', AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.us' }), {})).toMatchObject({
      authorityHost: 'https://login.microsoftonline.us',
      tenantId: 't',
      clientId: 'c',
      secretName: 'AZURE_CLIENT_SECRET',
    });
  });

  it('names everything missing (never a value)', () => {
    expect(servicePrincipal(env({}), { client_secret_secret: 'SP' })).toEqual({ missing: ['tenant_id (or AZURE_TENANT_ID)', 'client_id (or AZURE_CLIENT_ID)', 'the secret SP'] });
  });
});

describe('azureAuthConfigured', () => {
  it.each([
    ['api key present', { AZURE_OPENAI_API_KEY: 'k' }, {}, true],
    ['api key missing', {}, {}, false],
    ['its own api_key_secret', { EAST: 'k' }, { api_key_secret: 'EAST' }, true],
    ['its own api_key_secret missing (the default is not used)', { AZURE_OPENAI_API_KEY: 'k' }, { api_key_secret: 'EAST' }, false],
    ['entra complete', { AZURE_CLIENT_SECRET: 'x' }, { auth: 'entra', tenant_id: 't', client_id: 'c' }, true],
    ['entra without its secret', {}, { auth: 'entra', tenant_id: 't', client_id: 'c' }, false],
    ['agent with the binding', { AGENT_CREDENTIALS: {} }, { auth: 'agent:lab' }, true],
    ['agent without it', {}, { auth: 'agent:lab' }, false],
  ])('%s', (_name, vars, options, expected) => expect(azureAuthConfigured(env(vars), options)).toBe(expected));
});

describe('azureAuth', () => {
  it('sends an API key as api-key', async () => {
    expect(await azureAuth(env({ EAST: 'east-key' }), { api_key_secret: 'EAST' })).toEqual({ headers: { 'api-key': 'east-key' }, secret: 'east-key' });
  });

  it('an unknown auth is a configuration error naming the choices', async () => {
    await expect(azureAuth(env({}), { auth: 'password' })).rejects.toMatchObject({ status: 500, code: 'gateway_misconfigured', message: expect.stringContaining('"api_key", "entra" or "agent:NAME"') });
  });

  it('entra without its settings: 503 naming what is missing', async () => {
    await expect(azureAuth(env({}), { auth: 'entra' })).rejects.toMatchObject({ status: 503, code: 'provider_not_configured', message: expect.stringContaining('tenant_id (or AZURE_TENANT_ID)') });
  });
});
