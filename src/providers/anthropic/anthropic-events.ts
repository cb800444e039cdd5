import { APIError } from '@anthropic-ai/sdk/core/error';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages/messages';
import type { ErrorType } from '@anthropic-ai/sdk/resources/shared';
import { parseSse, type SseEvent } from '../../openai/sse';
import { SseEventSource } from '../../openai/sse-event-source';

// The events of a Messages API stream, read from the response body (messages-client.ts),
// with what the SDK's own Stream does to them: `ping` and unnamed
// events skipped, each `data` parsed as JSON, an `error` event thrown as the SDK's
// APIError (no status: it came inside a 200). The SDK's Stream reaches the same events
// through five nested async iterators (body → bytes → lines → SSE → JSON); in workerd
// each costs microtask round trips per event, which at hundreds of events per answer
// shows in when the stream ends. Here one read's events are decoded in one go
// (openai/sse-event-source.ts).

/** One SSE event → the Messages API event, or undefined for what the SDK skips. */
export function decodeAnthropicEvent({ event, data }: SseEvent, headers: Headers): RawMessageStreamEvent | undefined {
  if (event === 'ping' || event === null) return undefined;
  if (event === 'error') {
    const error = safeJson(data) ?? data;
    throw new APIError(undefined, error, undefined, headers, (error as { error?: { type?: ErrorType } })?.error?.type);
  }
  if (!data) return undefined;
  // A SyntaxError here is mapped like the SDK's own (anthropicErrorToGateway).
  return JSON.parse(data) as RawMessageStreamEvent;
}

/** The events of one streamed response, each mapped by `wrap` (e.g. tagged with its choice). */
export function anthropicEvents<T = RawMessageStreamEvent>(
  body: ReadableStream<Uint8Array>,
  headers: Headers,
  wrap: (event: RawMessageStreamEvent) => T = (event) => event as T,
): SseEventSource<T> {
  return new SseEventSource(parseSse(body), (sse) => {
    const event = decodeAnthropicEvent(sse, headers);
    return event === undefined ? undefined : wrap(event);
  });
}

/** The JSON value of `text`, or undefined when it is not JSON (an error page, an empty body). */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
