import type { Env } from '../../env';
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

let cached: GeminiClient | undefined;

/** The client for this environment, built once and reused while the configuration stays the same. */
export function geminiClient(env: Env): GeminiClient {
  const baseUrl = (env.GEMINI_BASE_URL || DEFAULT_GEMINI_BASE_URL).replace(/\/+$/, '').replace(/\/v1(beta|alpha)?$/, '');
  const apiKey = env.GEMINI_API_KEY ?? '';
  if (cached?.baseUrl !== baseUrl || cached.apiKey !== apiKey) cached = new GeminiClient(baseUrl, apiKey);
  return cached;
}
