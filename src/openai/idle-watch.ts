// The stream idle timeout without a timer per event. Racing every read against its
// own setTimeout costs a timer set and cleared per upstream event (a few µs each in
// workerd, hundreds of times per stream); instead one timer per stream wakes up at
// most once per `ms`, and only while a read is waiting does the wait count.

export interface IdleWatch {
  /** `read`, or the `onIdle()` error if it waits `ms` or more. */
  wait<T>(read: Promise<T>): Promise<T>;
  /** Ends the watch (its timer) for good. */
  stop(): void;
}

/** `ms` ≤ 0: no limit (wait() returns the read itself). */
export function idleWatch(ms: number, onIdle: () => Error, now: () => number = Date.now): IdleWatch {
  if (!(ms > 0)) return { wait: (read) => read, stop: () => {} };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waitingSince = 0;
  let waiting = false;
  let stopped = false;
  let rejectIdle!: (error: Error) => void;
  const idle = new Promise<never>((_, reject) => (rejectIdle = reject));
  idle.catch(() => {}); // rejected only while someone waits on it; otherwise nobody must hear of it

  const arm = (delay: number) => {
    timer = setTimeout(check, delay);
  };
  const check = () => {
    timer = undefined;
    if (stopped || !waiting) return; // the next wait() arms it again
    const waited = now() - waitingSince;
    if (waited >= ms) rejectIdle(onIdle());
    else arm(ms - waited);
  };
  const settled = () => {
    waiting = false;
  };

  return {
    wait<T>(read: Promise<T>): Promise<T> {
      waitingSince = now();
      waiting = true;
      if (timer === undefined && !stopped) arm(ms);
      read.then(settled, settled);
      return Promise.race([read, idle]);
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
