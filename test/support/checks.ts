import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { TestGateway } from './gateway.ts';

/*
 * Small checks the end-to-end and provider tests share.
 */

/** What the gateway's (only) user key has committed: spent and held, in micro-dollars. */
export async function committedMicroUsd(gateway: TestGateway): Promise<number> {
  return (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? -1;
}

/** The official client's error for `run`, with this status and OpenAI error code. */
export async function expectApiError(run: Promise<unknown>, status: number, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** Waits until `check` holds, polling every 20 ms; fails after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
