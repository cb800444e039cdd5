// The events of several upstream streams as one stream, each tagged with its source,
// in the order they arrive (for `n` > 1: one Claude call per choice). Each source has
// at most one read outstanding, so nothing piles up ahead of the client. The first
// failure of any source fails the merged stream.

export interface Tagged<E> {
  choice: number;
  event: E;
}

type Settled<E> = { source: number; result: IteratorResult<E> };

export function mergeStreams<E>(sources: AsyncIterator<E>[]): AsyncIterator<Tagged<E>> {
  if (sources.length === 1) return tagOne(sources[0]);
  const pending = new Map<number, Promise<Settled<E>>>();
  const read = (source: number) => {
    const next = sources[source].next().then((result) => ({ source, result }));
    // Handled here so that a source failing while another's event is being sent is not
    // an unhandled rejection; the race below still sees the failure.
    next.catch(() => {});
    pending.set(source, next);
  };
  sources.forEach((_, i) => read(i));

  return {
    async next() {
      while (pending.size > 0) {
        const { source, result } = await Promise.race(pending.values());
        if (result.done) {
          pending.delete(source);
          continue;
        }
        read(source);
        return { done: false, value: { choice: source, event: result.value } };
      }
      return { done: true, value: undefined };
    },
    async return() {
      pending.clear();
      await Promise.allSettled(sources.map((s) => s.return?.()));
      return { done: true, value: undefined };
    },
  };
}

function tagOne<E>(source: AsyncIterator<E>): AsyncIterator<Tagged<E>> {
  return {
    async next() {
      const result = await source.next();
      return result.done ? { done: true, value: undefined } : { done: false, value: { choice: 0, event: result.value } };
    },
    async return() {
      await source.return?.();
      return { done: true, value: undefined };
    },
  };
}
