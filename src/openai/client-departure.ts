// For a response body the gateway builds itself (a translated stream, the usage tap): the
// runtime does not cancel such a body when its client leaves while nothing is reading it
// (its queue full, waiting), so the body would never learn the client is gone. The
// request's signal does fire; this turns it into the body's end.

export interface ClientDeparture {
  /** The body's ReadableStream `start`: the controller to error when the client leaves. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void;
  /** The body ended on its own: stop listening. */
  stop(): void;
}

/**
 * Calls `left` once when `signal` aborts (in a microtask, if it already has). `left`
 * ends the body's work and returns whether it did (false: it had ended already); then
 * the body's stream is errored, so a read in progress ends too.
 */
export function onClientDeparture(signal: AbortSignal | undefined, left: () => boolean): ClientDeparture {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const onAbort = () => {
    if (!left()) return;
    try {
      controller?.error(new Error('the client went away'));
    } catch {
      // closed already
    }
  };
  if (signal?.aborted) queueMicrotask(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    start: (c) => (controller = c),
    stop: () => signal?.removeEventListener('abort', onAbort),
  };
}
