import { setTimeout as wait } from 'node:timers/promises';

/**
 * Waits `ms`, or rejects with the signal's own reason as soon as it aborts (the timer is cleared,
 * so an abandoned wait leaves nothing behind). Node's abortable timer rejects with a generic
 * AbortError instead; the router tells a client leaving from an attempt timing out by the reason.
 */
export async function sleepMs(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (ms <= 0) return;
  try {
    await wait(ms, undefined, { signal });
  } catch (err) {
    signal.throwIfAborted();
    throw err;
  }
}
