import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { MockServer, sendJson, type RecordedRequest } from './mock-server';

// A stand-in for the Microsoft identity platform's v2.0 token endpoint, client-credentials
// grant: POST /{tenant}/oauth2/v2.0/token, form-encoded client_id, client_secret, scope,
// grant_type=client_credentials → {"token_type":"Bearer","expires_in":3599,
// "ext_expires_in":3599,"access_token":"…"}. Refusals use Entra's error body (error,
// error_description starting "AADSTS<code>: " and ending with Trace ID / Correlation ID /
// Timestamp lines, error_codes, timestamp, trace_id, correlation_id, error_uri) and its
// statuses: 401 invalid_client for a wrong secret, 400 for the rest. Tokens it issued are
// remembered, so an Azure mock can accept exactly those.

export interface ServicePrincipalFixture {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface EntraMock {
  server: MockServer;
  /** The authority host to configure (AZURE_AUTHORITY_HOST / authority_host). */
  url: string;
  /** Lifetime of the tokens it issues, in seconds (Entra: 3599 for most apps). */
  expiresIn: number;
  /** Token requests (form fields) in order. */
  readonly tokenRequests: Record<string, string>[];
  /** Whether this token was issued by the mock (and so is valid for the Azure mock). */
  issued(token: string): boolean;
  close(): Promise<void>;
}

const COGNITIVE_SCOPE = 'https://cognitiveservices.azure.com/.default';

export async function startEntraMock(principals: ServicePrincipalFixture[]): Promise<EntraMock> {
  const issued = new Set<string>();
  const tokenRequests: Record<string, string>[] = [];
  let count = 0;
  const mock: EntraMock = {
    server: undefined as unknown as MockServer,
    url: '',
    expiresIn: 3599,
    tokenRequests,
    issued: (token) => issued.has(token),
    close: () => mock.server.close(),
  };
  mock.server = await MockServer.start((req, res) => {
    const path = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(req.path);
    if (req.method !== 'POST' || !path) return sendJson(res, 404, { error: 'not_found' });
    const form = Object.fromEntries(new URLSearchParams(req.rawBody));
    tokenRequests.push(form);
    const tenant = decodeURIComponent(path[1]);
    if (form.grant_type !== 'client_credentials') {
      return aadError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    if (!principals.some((p) => p.tenantId === tenant)) {
      return aadError(res, 400, 'invalid_request', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    }
    const principal = principals.find((p) => p.tenantId === tenant && p.clientId === form.client_id);
    if (!principal) {
      return aadError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${form.client_id}' was not found in the directory '${tenant}'.`);
    }
    if (!form.client_secret) return aadError(res, 401, 'invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
    if (form.client_secret !== principal.clientSecret) {
      return aadError(
        res,
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${principal.clientId}'.`,
      );
    }
    if (form.scope !== COGNITIVE_SCOPE) {
      return aadError(res, 400, 'invalid_scope', 1002012, `The provided value for scope ${form.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const token = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.mock-entra-${++count}.${randomUUID()}`;
    issued.add(token);
    sendJson(res, 200, { token_type: 'Bearer', expires_in: mock.expiresIn, ext_expires_in: mock.expiresIn, access_token: token });
  });
  mock.url = mock.server.url;
  return mock;
}

function aadError(res: ServerResponse, status: number, error: string, code: number, text: string) {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

export type { RecordedRequest };
