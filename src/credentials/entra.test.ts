import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import { entraTokenRequest, entraTokenResult, type ServicePrincipal } from './entra';

const SP: ServicePrincipal = {
  authorityHost: 'https://login.microsoftonline.com/',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  clientId: '11111111-2222-3333-4444-555555555555',
  clientSecret: 'Xy8Q~secret-value-0123456789abcdefghij',
  secretName: 'AZURE_SP_SECRET',
};

// Bodies as Microsoft Entra ID sends them (v2.0 token endpoint).
const aadError = (error: string, code: number, text: string) =>
  JSON.stringify({
    error,
    error_description: `AADSTS${code}: ${text}\r\nTrace ID: 0b7c1e3c-0000-4000-8000-000000000000\r\nCorrelation ID: 7d9f0000-0000-4000-8000-000000000000\r\nTimestamp: 2026-11-26 12:00:00Z`,
    error_codes: [code],
    timestamp: '2026-11-26 12:00:00Z',
    trace_id: '0b7c1e3c-0000-4000-8000-000000000000',
    correlation_id: '7d9f0000-0000-4000-8000-000000000000',
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });

describe('entraTokenRequest', () => {
  it('is the client-credentials form POST to the tenant’s v2.0 token endpoint', () => {
    const { url, body } = entraTokenRequest(SP);
    expect(url).toBe('https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token');
    expect(Object.fromEntries(new URLSearchParams(body))).toEqual({
      client_id: SP.clientId,
      client_secret: SP.clientSecret,
      scope: 'https://cognitiveservices.azure.com/.default',
      grant_type: 'client_credentials',
    });
  });
});

describe('entraTokenResult', () => {
  it('reads a token and its lifetime', () => {
    const ok = JSON.stringify({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'eyJ0eXAi.x.y' });
    expect(entraTokenResult(SP, 200, ok, 1000)).toEqual({ token: 'eyJ0eXAi.x.y', expiresAt: 1000 + 3_599_000 });
  });

  it('reads expires_in given as a string (as some clouds send it)', () => {
    expect(entraTokenResult(SP, 200, '{"token_type":"Bearer","expires_in":"3599","access_token":"t"}', 0)).toEqual({ token: 't', expiresAt: 3_599_000 });
  });

  const failures: [name: string, status: number, body: string, says: RegExp][] = [
    ['a wrong client secret names the secret, not its value', 401, aadError('invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.'), /client secret in AZURE_SP_SECRET was rejected.*AADSTS7000215: Invalid client secret provided/],
    ['an expired client secret', 401, aadError('invalid_client', 7000222, "The provided client secret keys for app '1111' are expired."), /AZURE_SP_SECRET has expired/],
    ['an unknown application', 400, aadError('unauthorized_client', 700016, "Application with identifier '1111' was not found in the directory 'x'."), /application \(client_id 11111111-2222-3333-4444-555555555555\) was not found/],
    ['an unknown tenant', 400, aadError('invalid_request', 90002, "Tenant '72f9' not found."), /tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 was not found/],
    ['another AADSTS error is passed on', 400, aadError('invalid_scope', 1002012, 'The provided value for scope x is not valid.'), /refused the token request \(invalid_scope\).*AADSTS1002012/],
    ['an HTML error page', 503, '<html>Service Unavailable</html>', /Microsoft Entra ID answered 503/],
    ['a 200 without a token', 200, '{"token_type":"Bearer"}', /without an access_token/],
  ];
  it.each(failures)('%s', (_name, status, body, says) => {
    const error = entraTokenResult(SP, status, body, 0) as GatewayError;
    expect(error).toBeInstanceOf(GatewayError);
    expect({ status: error.status, code: error.code }).toEqual({ status: 502, code: 'upstream_auth_failed' });
    expect(error.message).toMatch(says);
    expect(error.message).toContain('service principal 11111111-2222-3333-4444-555555555555');
    expect(error.message).not.toContain(SP.clientSecret);
    expect(error.message).not.toContain('Trace ID');
  });

  it('never repeats the secret even when Entra echoes it', () => {
    const error = entraTokenResult(SP, 400, aadError('invalid_request', 9002313, `Invalid request near ${SP.clientSecret}.`), 0) as GatewayError;
    expect(error.message).not.toContain(SP.clientSecret);
  });
});
