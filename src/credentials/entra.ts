import { GatewayError } from '../openai/errors';
import { redactSecrets } from '../providers/upstream-error';
import type { AccessToken } from './token-cache';

// Microsoft Entra ID, client-credentials grant (a service principal): the one request
// @azure/identity's ClientSecretCredential makes, done with fetch. The SDK itself does not
// run in the Worker: its workerd build imports node:child_process, node:fs, node:crypto,
// http and msal-node (esbuild cannot bundle it without nodejs_compat; with nodejs_compat
// workerd still refuses node:child_process at start-up), and it would add ≈ 0.83 MB to a
// 0.49 MB bundle for one form POST. Request and response handling here are pure; the
// fetch is in requestEntraToken.

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

export interface ServicePrincipal {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The Worker secret holding clientSecret: named in errors (its value never is). */
  secretName: string;
}

/** POST {authorityHost}/{tenant}/oauth2/v2.0/token, form-encoded. */
export function entraTokenRequest(sp: ServicePrincipal, scope = COGNITIVE_SERVICES_SCOPE): { url: string; body: string } {
  const url = `${sp.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(sp.tenantId)}/oauth2/v2.0/token`;
  const body = new URLSearchParams({ client_id: sp.clientId, client_secret: sp.clientSecret, scope, grant_type: 'client_credentials' }).toString();
  return { url, body };
}

/** What Entra answered: a token (expires_in seconds from `now`), or the error to report (502). */
export function entraTokenResult(sp: ServicePrincipal, status: number, text: string, now: number): AccessToken | GatewayError {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed;
  } catch {
    // not JSON: reported below
  }
  if (status >= 200 && status < 300 && body) {
    const token = body.access_token;
    const expiresIn = Number(body.expires_in);
    if (typeof token === 'string' && token !== '' && Number.isFinite(expiresIn) && expiresIn > 0) {
      return { token, expiresAt: now + expiresIn * 1000 };
    }
    return failure(sp, 'Microsoft Entra ID answered without an access_token and expires_in.');
  }
  const description = typeof body?.error_description === 'string' ? firstSentences(body.error_description) : '';
  const code = /AADSTS(\d+)/.exec(description)?.[1] ?? (Array.isArray(body?.error_codes) ? String(body.error_codes[0]) : '');
  const why = ENTRA_CODES[code]?.(sp) ?? (body ? `Microsoft Entra ID refused the token request (${String(body.error ?? status)})` : `Microsoft Entra ID answered ${status}`);
  return failure(sp, `${why}.${description ? ` Entra said: ${redactSecrets(description, [sp.clientSecret])}` : ''}`);
}

const ENTRA_CODES: Record<string, (sp: ServicePrincipal) => string> = {
  '7000215': (sp) => `the client secret in ${sp.secretName} was rejected (wrong value: it must be the secret's value, not its id)`,
  '7000222': (sp) => `the client secret in ${sp.secretName} has expired: create a new one and put it in ${sp.secretName}`,
  '700016': (sp) => `the application (client_id ${sp.clientId}) was not found in tenant ${sp.tenantId}`,
  '90002': (sp) => `the tenant ${sp.tenantId} was not found`,
  '900023': (sp) => `the tenant id "${sp.tenantId}" is not valid`,
};

function failure(sp: ServicePrincipal, why: string): GatewayError {
  return new GatewayError(
    502,
    `Azure OpenAI sign-in failed for service principal ${sp.clientId} (tenant ${sp.tenantId}): ${why}`,
    'upstream_error',
    null,
    'upstream_auth_failed',
  );
}

/** The message without Entra's trailing "Trace ID: … Correlation ID: … Timestamp: …" lines. */
function firstSentences(description: string): string {
  return description.split(/\r?\n| Trace ID:/)[0].trim().slice(0, 300);
}

/** Asks Entra for a token (the IO). */
export async function requestEntraToken(sp: ServicePrincipal, now: () => number = Date.now): Promise<AccessToken> {
  const { url, body } = entraTokenRequest(sp);
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body });
    text = await response.text();
  } catch (error) {
    throw failure(sp, `Microsoft Entra ID at ${new URL(url).origin} could not be reached (${error instanceof Error ? error.message : String(error)})`);
  }
  const result = entraTokenResult(sp, response.status, text, now());
  if (result instanceof GatewayError) throw result;
  return result;
}
