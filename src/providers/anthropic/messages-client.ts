import { BaseAnthropic, type ClientOptions } from '@anthropic-ai/sdk/client';
import { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError, type APIError } from '@anthropic-ai/sdk/core/error';
import { safeJson } from './anthropic-events';

// The Messages call: the SDK builds the request (URL, auth, anthropic-version and its
// platform headers) and types every error; the fetch in between is done here. The SDK's
// own per-call path (retry bookkeeping, logging, tracing, middleware, a
// FinalizationRegistry per response body, a second AbortController) does nothing the
// gateway uses — it owns retries, and logs and traces nothing of the SDK's — and costs
// ≈ 0.2–0.3 ms of CPU per call in workerd and up to 0.4 ms of a stream’s first chunk
// (bench/README.md). What goes on the wire is what the SDK's `post` sends (tested).

const MESSAGES_PATH = '/v1/messages';

/** The request the SDK builds for one set of per-call headers: the same for every call of a client. */
interface PreparedCall {
  url: string;
  headers: Record<string, string>;
}

export class MessagesClient extends BaseAnthropic {
  private readonly prepared = new Map<string, Promise<PreparedCall>>();
  private readonly customFetch: ClientOptions['fetch'];

  constructor(options: ClientOptions) {
    super({ ...options, maxRetries: 0 });
    this.customFetch = options.fetch;
  }

  /**
   * POST /v1/messages with a serialised body: the response when it is a 2xx (its body
   * unread), else the SDK's typed error — an APIError by status, APIConnectionError,
   * APIUserAbortError when `calls` was aborted, APIConnectionTimeoutError when no
   * response head came within the client's timeout (which aborts `calls`).
   */
  async postMessages(body: string, headers: Record<string, string>, calls: AbortController): Promise<Response> {
    const { url, headers: sent } = await this.prepare(headers);
    if (calls.signal.aborted) throw new APIUserAbortError();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      calls.abort();
    }, this.timeout);
    const send = this.customFetch ?? fetch;
    let response: Response;
    try {
      response = (await send(url, { method: 'POST', headers: sent, body, signal: calls.signal })) as Response;
    } catch (error) {
      if (timedOut) throw new APIConnectionTimeoutError();
      if (calls.signal.aborted) throw new APIUserAbortError();
      throw new APIConnectionError({ cause: error instanceof Error ? error : new Error(String(error)) });
    } finally {
      clearTimeout(timer);
    }
    if (response.ok) return response;
    const text = await response.text().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    const json = safeJson(text);
    throw this.makeStatusError(response.status, json as object, json === undefined ? text : undefined, response.headers) satisfies APIError;
  }

  /** URL and headers as the SDK's buildRequest makes them (its key check included), once per per-call headers. */
  private prepare(headers: Record<string, string>): Promise<PreparedCall> {
    const key = JSON.stringify(headers);
    let call = this.prepared.get(key);
    if (!call) {
      call = this.buildRequest({ method: 'post', path: MESSAGES_PATH, headers }, { retryCount: 0 }).then(({ url, req }) => ({
        url,
        headers: Object.fromEntries(new Headers(req.headers as HeadersInit)),
      }));
      // A failure (no API key) is thrown again on the next call, not remembered.
      call.catch(() => this.prepared.delete(key));
      if (this.prepared.size < 8) this.prepared.set(key, call);
    }
    return call;
  }
}
