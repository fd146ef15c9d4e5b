import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../src/routing/circuit-breaker.ts';

describe('CircuitBreaker', () => {
  const settings = { consecutiveFailures: 100, failureRate: 0.5, minSamples: 10, windowMs: 1000, cooldownMs: 500 };

  it('trips on the failure rate over the window once it holds the minimum sample', () => {
    let now = 0;
    const breaker = new CircuitBreaker(settings, () => now);
    for (let i = 0; i < 4; i += 1) breaker.record(false);
    assert.equal(breaker.state, 'closed', 'too few samples yet');
    for (let i = 0; i < 5; i += 1) breaker.record(true);
    breaker.record(false); // 5 of 10 failed
    assert.equal(breaker.state, 'open');
    now += 500;
    assert.equal(breaker.state, 'half_open');
    assert.equal(breaker.tryAcquire(), true);
    assert.equal(breaker.tryAcquire(), false, 'one probe at a time');
    breaker.record(true);
    assert.equal(breaker.state, 'closed');
  });

  it('forgets outcomes older than the window', () => {
    let now = 0;
    const breaker = new CircuitBreaker(settings, () => now);
    for (let i = 0; i < 9; i += 1) breaker.record(false);
    now += 2000;
    for (let i = 0; i < 9; i += 1) breaker.record(true);
    breaker.record(false);
    assert.equal(breaker.state, 'closed', 'the old failures left the window');
    for (let i = 0; i < 5000; i += 1) {
      now += 1;
      breaker.record(true);
    }
    assert.equal(breaker.state, 'closed');
  });
});
