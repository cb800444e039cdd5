import { apiKeyFor } from '../../credentials/secrets';
import type { Env } from '../../env';
import type { DeploymentOptions } from '../../routing/catalog';
import { upstreamNetworkError } from '../upstream-error';
import { geminiHttpError } from './gemini-error';

// The HTTP side of the Gemini API: two URLs and an API-key header. The gateway calls
// it with fetch rather than through @google/generative-ai's GenerativeModel (see
// the README: its stream reader pulls the whole upstream stream regardless of the
// client and keeps a second copy to aggregate, its errors flatten Google's error body
// into one string and drop the response headers, and it cannot be stopped from
// dropping newer response fields when it aggregates). No retries here: the gateway
// owns retry policy.

export const DEFAULT_GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';
const API_VERSION = 'v1beta';

export class GeminiClient {
  private readonly headers: Record<string, string>;

  constructor(
    /** Without the API version: `https://generativelanguage.googleapis.com`. */
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {
    // In a header, not `?key=`: URLs end up in logs.
    this.headers = { 'content-type': 'application/json', 'x-goog-api-key': apiKey };
  }

  /** `…/v1beta/models/{model}:generateContent`, or `:streamGenerateContent?alt=sse` (SSE; without alt=sse Gemini streams one JSON array). */
  url(model: string, stream: boolean): string {
    // `tunedModels/…` names carry their collection; bare ids are base models.
    const name = model.includes('/') ? model : `models/${model}`;
    const path = name.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl}/${API_VERSION}/${path}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
  }

  /** POSTs a request body; a non-2xx answer is thrown as the mapped GatewayError. */
  async generateContent(model: string, body: Blob | string, stream: boolean, signal: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(this.url(model, stream), { method: 'POST', headers: this.headers, body, signal });
    } catch (error) {
      throw upstreamNetworkError('Gemini', error);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw geminiHttpError(response.status, text, response.headers, [this.apiKey]);
    }
    return response;
  }
}

const MAX_CACHED_CLIENTS = 8;
const clients = new Map<string, GeminiClient>();

/**
 * The client of one credential (the deployment's api_key_secret and base_url, else
 * GEMINI_API_KEY / GEMINI_BASE_URL), built once and reused while the configuration stays the same.
 */
export function geminiClient(env: Env, options: DeploymentOptions = {}): GeminiClient {
  const configured = typeof options.base_url === 'string' ? options.base_url : env.GEMINI_BASE_URL;
  const baseUrl = (configured || DEFAULT_GEMINI_BASE_URL).replace(/\/+$/, '').replace(/\/v1(beta|alpha)?$/, '');
  const apiKey = options.api_key_secret === undefined ? (env.GEMINI_API_KEY ?? '') : apiKeyFor(env, options, 'GEMINI_API_KEY', 'Gemini');
  const cacheKey = `${baseUrl}\n${apiKey}`;
  let client = clients.get(cacheKey);
  if (!client) {
    if (clients.size >= MAX_CACHED_CLIENTS) clients.clear();
    clients.set(cacheKey, (client = new GeminiClient(baseUrl, apiKey)));
  }
  return client;
}
