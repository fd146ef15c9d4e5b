import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { retainUntilAnswered } from '../../src/api/retain-until-answered.ts';
import { BodyReads } from '../../src/http/body-reads.ts';

const never = new AbortController().signal;

describe('BodyReads', () => {
  it('lets at most `limit` turns run; the next waits until one ends, in order', async () => {
    const reads = new BodyReads(2);
    const first = await reads.acquire(never);
    const second = await reads.acquire(never);
    const order: string[] = [];
    const third = reads.acquire(never).then((turn) => {
      order.push('third');
      return turn;
    });
    await sleep(5);
    assert.deepEqual(order, [], 'no third turn while two are out');
    assert.equal(reads.inUse, 2);
    first.release();
    (await third).release();
    second.release();
    assert.deepEqual(order, ['third']);
    assert.equal(reads.inUse, 0);
  });

  it('a waiter that gives up is not granted a turn later', async () => {
    const reads = new BodyReads(1);
    const held = await reads.acquire(never);
    const controller = new AbortController();
    const waiting = reads.acquire(controller.signal);
    controller.abort(new Error('client left'));
    await assert.rejects(waiting, /client left/);
    held.release();
    assert.equal(reads.inUse, 0);
  });

  it('gives back scratch memory when a turn is released, and the next turn reads into the same memory', async () => {
    const reads = new BodyReads(4);
    const turn = await reads.acquire(never);
    const body = turn.scratch(1_500_000);
    const image = turn.scratch(1_100_000);
    assert.equal(body.length, 1_500_000, 'exactly the size asked');
    assert.equal(image.length, 1_100_000);
    assert.notEqual(body.buffer, image.buffer, 'two buffers of one turn never share memory');
    turn.release();
    turn.release(); // idempotent
    assert.equal(reads.pooledBytes, 2 * 2 ** 21, 'both kept, in their 2 MiB size class');
    const next = await reads.acquire(never);
    const again = [next.scratch(1_400_000), next.scratch(1_200_000)].map((buffer) => buffer.buffer);
    assert.deepEqual(new Set(again), new Set([body.buffer, image.buffer]), 'reused, not allocated');
    next.release();
  });

  it('never reuses the memory of a detached turn (its answer may still be being written)', async () => {
    const reads = new BodyReads(4);
    const turn = await reads.acquire(never);
    const body = turn.scratch(100_000);
    turn.detach();
    assert.equal(reads.inUse, 0, 'the turn itself is free');
    assert.equal(reads.pooledBytes, 0);
    const next = await reads.acquire(never);
    assert.notEqual(next.scratch(100_000).buffer, body.buffer);
    next.release();
  });

  it('hands out memory of its own after a turn ended, and pools neither huge buffers nor more than its cap', async () => {
    const reads = new BodyReads(4, 3 * 2 ** 20);
    const turn = await reads.acquire(never);
    const huge = turn.scratch(40 * 2 ** 20);
    assert.equal(huge.length, 40 * 2 ** 20);
    turn.scratch(2 ** 20);
    turn.scratch(2 ** 20);
    turn.scratch(2 ** 20);
    turn.release();
    assert.equal(reads.pooledBytes, 3 * 2 ** 20, 'the 40 MiB buffer is dropped, and the pool stops at its cap');
    const late = turn.scratch(1000);
    assert.equal(late.length, 1000);
    const next = await reads.acquire(never);
    for (let i = 0; i < 3; i++) assert.notEqual(next.scratch(2 ** 20).buffer, late.buffer);
    next.release();
  });
});

describe('retainUntilAnswered', () => {
  async function turnOf(reads: BodyReads) {
    const turn = await reads.acquire(never);
    turn.scratch(70_000);
    return turn;
  }

  it('ends retained turns once the response has closed and the handler has finished, whichever is later', async () => {
    const reads = new BodyReads(4);
    const response = new EventEmitter();
    const answer = retainUntilAnswered(response);
    answer.retain(await turnOf(reads));
    response.emit('close');
    assert.equal(reads.inUse, 1, 'the handler may still be using the bytes');
    answer.finished();
    assert.equal(reads.inUse, 0);
    assert.ok(reads.pooledBytes > 0, 'the memory went back to the pool');
  });

  it('after the time limit a slow answer gives its turn up but keeps its memory', async () => {
    const reads = new BodyReads(4);
    const response = new EventEmitter();
    const answer = retainUntilAnswered(response, 20);
    answer.retain(await turnOf(reads));
    answer.finished();
    await sleep(60);
    assert.equal(reads.inUse, 0, 'the turn ended at the limit');
    assert.equal(reads.pooledBytes, 0, 'its buffer was not given back for reuse');
    response.emit('close');
    assert.equal(reads.pooledBytes, 0);
  });

  it('a turn retained after everything has finished ends at once', async () => {
    const reads = new BodyReads(4);
    const response = new EventEmitter();
    const answer = retainUntilAnswered(response);
    response.emit('close');
    answer.finished();
    answer.retain(await turnOf(reads));
    assert.equal(reads.inUse, 0);
  });
});
