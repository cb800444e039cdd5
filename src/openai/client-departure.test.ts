import { describe, expect, it } from 'vitest';
import { onClientDeparture } from './client-departure';

describe('onClientDeparture', () => {
  const body = (departure: ReturnType<typeof onClientDeparture>) => new ReadableStream<Uint8Array>({ start: departure.start }).getReader();

  it('the client leaving ends the body once and errors its stream, so a pending read ends', async () => {
    const client = new AbortController();
    let calls = 0;
    const reader = body(onClientDeparture(client.signal, () => (calls++, true)));
    const pending = reader.read();
    client.abort();
    client.abort();
    await expect(pending).rejects.toThrow('the client went away');
    expect(calls).toBe(1);
  });

  it('a signal aborted already: the body ends at once (in a microtask)', async () => {
    const client = new AbortController();
    client.abort();
    let calls = 0;
    const reader = body(onClientDeparture(client.signal, () => (calls++, true)));
    await expect(reader.read()).rejects.toThrow('the client went away');
    expect(calls).toBe(1);
  });

  it('a body that had ended already (left returns false) is not errored: what it queued can still be read', async () => {
    const client = new AbortController();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const departure = onClientDeparture(client.signal, () => false);
    const reader = new ReadableStream<Uint8Array>({
      start: (c) => {
        departure.start(c);
        controller = c;
      },
    }).getReader();
    controller.enqueue(new Uint8Array([1]));
    controller.close();
    client.abort();
    expect((await reader.read()).value).toEqual(new Uint8Array([1]));
  });

  it('stop(): the client leaving afterwards changes nothing', async () => {
    const client = new AbortController();
    let calls = 0;
    const departure = onClientDeparture(client.signal, () => (calls++, true));
    departure.stop();
    client.abort();
    await new Promise((r) => setTimeout(r, 0));
    expect(calls).toBe(0);
  });

  it('no signal: nothing to listen to', () => {
    expect(() => onClientDeparture(undefined, () => true).stop()).not.toThrow();
  });
});
