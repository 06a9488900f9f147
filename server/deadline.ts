/**
 * A deadline as an AbortSignal, held by a real timer. Not AbortSignal.timeout() inside
 * AbortSignal.any(): Node holds such a timeout signal weakly, and under garbage collection it can
 * be collected before it fires, so the deadline never comes (seen: 200 long-polls never answered
 * at their 25 s bound, bench/longpoll.mjs). Call `clear()` when done, to drop the timer.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Whether it ended by its time (not by one of the signals it follows). */
  readonly expired: boolean;
  clear(): void;
}

export function deadline(ms: number, ...follow: (AbortSignal | undefined)[]): Deadline {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException('deadline passed', 'TimeoutError'));
  }, ms);
  const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  const followed = follow.filter((s): s is AbortSignal => s !== undefined);
  for (const s of followed) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', onAbort, { once: true });
  }
  const clear = () => {
    clearTimeout(timer);
    for (const s of followed) s.removeEventListener('abort', onAbort);
  };
  controller.signal.addEventListener('abort', clear, { once: true });
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    clear
  };
}
