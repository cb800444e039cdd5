import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertErrorResponse, collectValidChunks } from '../helpers/schema';
import { startEntraMock, type EntraMock } from '../upstreams/entra';
import { startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// Azure OpenAI with a service principal (auth = "entra") in the real Worker: the
// authority host points at a mock Microsoft identity token endpoint, and the Azure mock
// accepts exactly the tokens it issued (as `Authorization: Bearer`, no api-key).

const SP = { tenantId: '0f0e0d0c-0000-4000-8000-00000000aaaa', clientId: '11111111-0000-4000-8000-00000000bbbb', clientSecret: 'Qx8~sp-secret-value-0123456789abcdef' };
const WRONG_SECRET = 'Qx8~wrong-secret-value-0123456789abc';

let entra: EntraMock;
/** A second token endpoint whose tokens live less than the 5-minute refresh margin. */
let shortLived: EntraMock;
let azure: OpenAIMock;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  [entra, shortLived] = await Promise.all([startEntraMock([SP]), startEntraMock([SP])]);
  shortLived.expiresIn = 240;
  azure = await startOpenAIMock({ azureBearer: (token) => entra.issued(token) || shortLived.issued(token) });
  const entraDeployment = { target: 'azure/gpt-4o', endpoint: azure.url, auth: 'entra', tenant_id: SP.tenantId, client_id: SP.clientId, client_secret_secret: 'AZURE_SP_SECRET' };
  gateway = await startGateway({
    MODELS: JSON.stringify({
      'gpt-4o': entraDeployment,
      'gpt-4o-short': { ...entraDeployment, target: 'azure/gpt-4o-short', authority_host: shortLived.url },
      'gpt-4o-wrong-secret': { ...entraDeployment, target: 'azure/gpt-4o-wrong', client_secret_secret: 'AZURE_SP_WRONG_SECRET' },
      'gpt-4o-unknown-app': { ...entraDeployment, target: 'azure/gpt-4o-unknown', client_id: '99999999-0000-4000-8000-00000000cccc' },
      'gpt-4o-no-secret': { ...entraDeployment, target: 'azure/gpt-4o-nosecret', client_secret_secret: 'AZURE_SP_NOT_SET' },
      'gpt-4o-unreachable': { ...entraDeployment, target: 'azure/gpt-4o-unreachable', authority_host: 'http://127.0.0.1:9' },
    }),
    AZURE_AUTHORITY_HOST: entra.url,
    AZURE_SP_SECRET: SP.clientSecret,
    AZURE_SP_WRONG_SECRET: WRONG_SECRET,
  });
  client = new OpenAI({ apiKey: TEST_GATEWAY_KEY, baseURL: gateway.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([entra?.close(), shortLived?.close(), azure?.close()]);
});

beforeEach(() => {
  azure.server.reset();
});

const post = (model: string) =>
  fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('Azure OpenAI with a service principal', () => {
  it('asks Entra once for many requests, sequential and concurrent, and calls Azure with the token as Bearer', async () => {
    // The burst first: twenty requests that find no token share the one request for it.
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `c${i}` }] })));
    for (const completion of burst) assertChatCompletion(completion);
    for (let i = 0; i < 5; i++) assertChatCompletion(await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `s${i}` }] }));
    expect(entra.tokenRequests).toHaveLength(1);
    expect(entra.tokenRequests[0]).toEqual({ client_id: SP.clientId, client_secret: SP.clientSecret, scope: 'https://cognitiveservices.azure.com/.default', grant_type: 'client_credentials' });
    expect(azure.server.requests).toHaveLength(25);
    const tokens = new Set(azure.server.requests.map((r) => r.headers.authorization));
    expect(tokens.size).toBe(1);
    const [bearer] = tokens;
    expect(bearer).toMatch(/^Bearer eyJ/);
    expect(entra.issued(bearer.slice('Bearer '.length))).toBe(true);
    for (const r of azure.server.requests) expect(r.headers['api-key']).toBeUndefined();
  });

  it('streams with the token too', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'stream me' }] });
    const chunks = await collectValidChunks(stream);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('echo: stream me');
    expect(azure.server.last.headers.authorization).toMatch(/^Bearer /);
  });

  it('refreshes a token before it expires: one with less than 5 minutes left is replaced on the next request', async () => {
    for (let i = 0; i < 3; i++) expect((await post('gpt-4o-short')).status).toBe(200);
    expect(shortLived.tokenRequests).toHaveLength(3);
    expect(new Set(azure.server.requests.map((r) => r.headers.authorization)).size).toBe(3);
  });

  it('a wrong client secret: 502 naming the secret and Entra’s AADSTS7000215, never the secret', async () => {
    const res = await post('gpt-4o-wrong-secret');
    expect(res.status).toBe(502);
    const text = await res.text();
    const body = JSON.parse(text);
    assertErrorResponse(body);
    expect(body.error.code).toBe('upstream_auth_failed');
    expect(body.error.message).toContain('AZURE_SP_WRONG_SECRET');
    expect(body.error.message).toContain('AADSTS7000215');
    expect(body.error.message).toContain(SP.clientId);
    expect(text).not.toContain(WRONG_SECRET);
    expect(text).not.toContain(SP.clientSecret);
    expect(azure.server.requests).toHaveLength(0);
  });

  it('an application unknown in the tenant: 502 naming the client id', async () => {
    const res = await post('gpt-4o-unknown-app');
    expect(res.status).toBe(502);
    expect((await res.json()).error.message).toMatch(/application \(client_id 99999999-0000-4000-8000-00000000cccc\) was not found.*AADSTS700016/);
  });

  it('an unreachable token endpoint: 502 saying so', async () => {
    const res = await post('gpt-4o-unreachable');
    expect(res.status).toBe(502);
    expect((await res.json()).error.message).toContain('could not be reached');
  });

  it('a secret that is not set: 503, the model not listed', async () => {
    const res = await post('gpt-4o-no-secret');
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('provider_not_configured');
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toContain('gpt-4o');
    expect(ids).not.toContain('gpt-4o-no-secret');
  });
});
