import { sleepMs } from './sleep.ts';

/**
 * The next moment (performance.now() milliseconds) each channel may poll a task. Process-wide on
 * purpose: DashScope allows 20 task queries per second per account (provider notes §2a, "Rate
 * limit for task query: 20 QPS"), however many tasks are in flight, so the spacing must hold
 * across every request this process serves on the channel, not within one request's loop.
 * Keyed by channel id: one entry per configured channel, so the map never grows past the config.
 *
 * Not shared between replicas: N gateway processes polling one account each keep their own
 * spacing, so give each replica `pollMinIntervalMs` ≥ N × 50 ms when that matters.
 */
const nextPollAtMs = new Map<string, number>();

/**
 * Waits for this channel's next poll slot, taking it. Slots are handed out in call order,
 * `minIntervalMs` apart, so a burst of tasks is spread instead of refused with Throttling. A
 * waiter that aborts gives its slot up unused, which only ever makes polls sparser.
 */
export async function awaitPollSlot(channelId: string, minIntervalMs: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const nowMs = performance.now();
  const slotMs = Math.max(nowMs, nextPollAtMs.get(channelId) ?? nowMs);
  nextPollAtMs.set(channelId, slotMs + minIntervalMs);
  await sleepMs(slotMs - nowMs, signal);
}
