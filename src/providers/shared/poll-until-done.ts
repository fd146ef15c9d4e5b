import { GatewayError } from '../../errors.ts';
import type { PollPacer } from './poll-pacer.ts';
import { sleepMs } from './sleep.ts';

/** How an asynchronous upstream is polled. */
export interface PollTiming {
  /** Wait before the first poll; later waits grow ×`growth` up to `maxMs`. */
  readonly initialMs: number;
  readonly maxMs: number;
  /** Least time between two polls on one channel, whatever the number of tasks (see PollPacer). */
  readonly minIntervalMs: number;
  /** Each wait is this much longer than the one before (default 1.5). */
  readonly growth?: number;
  /** Failed polls in a row (5xx, throttling, garbled answers) ridden out before the attempt fails (default 2). */
  readonly failuresTolerated?: number;
}

/** What one poll found: still running, or done with a value. A failed task throws instead. */
export type PollState<T> = { readonly done: false } | { readonly done: true; readonly value: T };

export interface AsyncTask<Handle, T> {
  /** Creates the upstream task; returns what the polls need (a task id, a polling URL). */
  submit(): Promise<Handle>;
  /** One look at the task. Throws a GatewayError when the task failed, was refused or is lost. */
  poll(handle: Handle): Promise<PollState<T>>;
  /** Best effort: tells the upstream to stop (called when the request is abandoned mid-task). */
  cancel?(handle: Handle): Promise<void>;
}

/**
 * submit → poll with pacing and backoff → result, for every asynchronous upstream (DashScope
 * tasks; BFL, Replicate, fal and ComfyUI in later adapters). Nothing here bounds the wait: the
 * call's signal does (the router's attempt timeout and the request's deadline), and it cuts a
 * sleep, a queued poll slot and a poll in flight alike; the task is then cancelled if it can be.
 *
 * A failed poll does not fail the task, which runs on upstream regardless: giving up at once would
 * make the router create (and pay for) a second task, so passing faults are ridden out; a lasting
 * one, or a refusal such as a bad key, ends the attempt.
 */
export async function pollUntilDone<Handle, T>(
  task: AsyncTask<Handle, T>,
  options: {
    readonly timing: PollTiming;
    readonly pacer: PollPacer;
    /** The pacer's key: the channel id, so every task of one account shares the spacing. */
    readonly pacerKey: string;
    readonly signal: AbortSignal;
    /** Called for each poll failure that is ridden out (for the log). */
    readonly onPollFailure?: (error: GatewayError, failuresInARow: number) => void;
  },
): Promise<T> {
  const { timing, signal } = options;
  const growth = timing.growth ?? 1.5;
  const tolerated = timing.failuresTolerated ?? 2;
  const handle = await task.submit();
  try {
    let backoffMs = timing.initialMs;
    let waitMs = backoffMs;
    let failuresInARow = 0;
    for (;;) {
      await sleepMs(waitMs, signal);
      await options.pacer.awaitSlot(options.pacerKey, timing.minIntervalMs, signal);
      backoffMs = Math.min(timing.maxMs, backoffMs * growth);
      waitMs = backoffMs;
      let state: PollState<T>;
      try {
        state = await task.poll(handle);
        failuresInARow = 0;
      } catch (err) {
        if (!(err instanceof GatewayError) || !err.retryable || err.code === 'content_policy_violation' || failuresInARow >= tolerated || signal.aborted)
          throw err;
        failuresInARow += 1;
        options.onPollFailure?.(err, failuresInARow);
        if (err.retryAfterSeconds !== undefined) waitMs = Math.max(waitMs, err.retryAfterSeconds * 1000);
        continue;
      }
      if (state.done) return state.value;
    }
  } catch (err) {
    if (signal.aborted && task.cancel !== undefined) {
      // The client left or the deadline passed: the task's result would be paid for and thrown
      // away, so ask the upstream to stop it. Failures here change nothing for the caller.
      task.cancel(handle).catch(() => undefined);
    }
    throw err;
  }
}
