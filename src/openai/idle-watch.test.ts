import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { idleWatch } from './idle-watch';

const stall = () => new Error('stalled');
const later = <T>() => {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};

describe('idleWatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('passes reads that answer in time through', async () => {
    const watch = idleWatch(1000, stall);
    for (let i = 0; i < 5; i++) {
      const read = later<number>();
      const result = watch.wait(read.promise);
      await vi.advanceTimersByTimeAsync(900);
      read.resolve(i);
      expect(await result).toBe(i);
    }
    watch.stop();
  });

  it('rejects a read that waits the whole limit', async () => {
    const watch = idleWatch(1000, stall);
    const result = watch.wait(new Promise<number>(() => {}));
    const outcome = expect(result).rejects.toThrow('stalled');
    await vi.advanceTimersByTimeAsync(1000);
    await outcome;
  });

  it('counts only the time a read waits, not the time between reads (a slow client)', async () => {
    const watch = idleWatch(1000, stall);
    const first = later<number>();
    const one = watch.wait(first.promise);
    await vi.advanceTimersByTimeAsync(600);
    first.resolve(1);
    expect(await one).toBe(1);
    await vi.advanceTimersByTimeAsync(5000); // nobody reads meanwhile
    const second = later<number>();
    const two = watch.wait(second.promise);
    await vi.advanceTimersByTimeAsync(700); // 700 ms of waiting: under the limit
    second.resolve(2);
    expect(await two).toBe(2);
    watch.stop();
  });

  it('uses one timer for many reads', async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const watch = idleWatch(60_000, stall);
    for (let i = 0; i < 100; i++) expect(await watch.wait(Promise.resolve(i))).toBe(i);
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1);
    watch.stop();
    setTimeoutSpy.mockRestore();
  });

  it('a rejected read rejects as itself', async () => {
    const watch = idleWatch(1000, stall);
    await expect(watch.wait(Promise.reject(new Error('reset')))).rejects.toThrow('reset');
    watch.stop();
  });

  it('no limit (0): the read itself, no timer', async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const watch = idleWatch(0, stall);
    const read = Promise.resolve(1);
    expect(watch.wait(read)).toBe(read);
    expect(setTimeoutSpy).not.toHaveBeenCalled();
    setTimeoutSpy.mockRestore();
  });

  it('after stop(), nothing fires', async () => {
    const watch = idleWatch(1000, stall);
    let settled = false;
    watch.wait(new Promise<number>(() => {})).then(
      () => (settled = true),
      () => (settled = true),
    );
    watch.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(settled).toBe(false);
  });
});
