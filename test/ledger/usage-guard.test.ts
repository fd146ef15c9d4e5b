import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeUsage, type ImageUsage } from '../../src/catalog/index.ts';
import type { MoneyAnomaly } from '../../src/ledger/anomalies.ts';
import { maxCostMicroUsd } from '../../src/ledger/pricing.ts';
import { guardUsage, trustedUsage, type UsageLimits, usageBounds } from '../../src/ledger/usage-guard.ts';
import { catalog, requestFor } from '../support/requests.ts';

const gptImage1 = catalog.get('gpt-image-1');
if (gptImage1 === undefined) throw new Error('gpt-image-1 is not in the catalog');

const LIMITS: UsageLimits = {
  model: gptImage1,
  quality: 'low',
  size: { width: 1024, height: 1024 },
  imageCount: 2,
  prompt: 'a lighthouse at dusk',
  partialImages: 0,
  imageInputTokens: 0,
  upstreamCalls: 1,
};

function usage(text: number, image: number, output: number): ImageUsage {
  return {
    input_tokens: text + image,
    input_tokens_details: { text_tokens: text, image_tokens: image },
    output_tokens: output,
    total_tokens: text + image + output,
  };
}

const estimate = computeUsage(gptImage1, 'low', { width: 1024, height: 1024 }, 2, 'a lighthouse at dusk');

describe('usage guard', () => {
  it('passes a sane report through unchanged, and uses the estimate when there is none', () => {
    const honest = usage(6, 0, 544);
    assert.deepEqual(guardUsage(LIMITS, honest), { usage: honest, source: 'upstream', findings: [] });
    assert.deepEqual(guardUsage(LIMITS, undefined), { usage: estimate, source: 'estimate', findings: [] });
  });

  for (const [name, value] of [
    ['negative', -1_000_000_000],
    ['fractional', 12.5],
    ['not finite', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
    ['beyond safe integers', 2 ** 60],
  ] as const) {
    it(`replaces a report with a ${name} token count by the estimate`, () => {
      const guarded = guardUsage(LIMITS, { ...usage(6, 0, 544), output_tokens: value });
      assert.equal(guarded.source, 'estimate');
      assert.deepEqual(guarded.usage, estimate);
      assert.deepEqual(
        guarded.findings.map((f) => [f.kind, f.field]),
        [['usage_not_a_count', 'output_tokens']],
      );
    });
  }

  it('replaces a report whose counts are missing or not numbers', () => {
    const wire: unknown = JSON.parse('{"input_tokens":"11","output_tokens":544,"total_tokens":555}');
    // The adapters' types promise an ImageUsage; the guard must not believe them.
    const guarded = guardUsage(LIMITS, wire as ImageUsage);
    assert.equal(guarded.source, 'estimate');
    assert.deepEqual(
      guarded.findings.map((f) => [f.field, f.reported]),
      [
        ['input_tokens', 'string'],
        ['input_tokens_details.text_tokens', 'missing'],
        ['input_tokens_details.image_tokens', 'missing'],
      ],
    );
  });

  it(`output tokens: up to twice the token table for the size, quality and count (plus partial images)`, () => {
    // low 1024x1024 is 272 tokens per image; two images.
    assert.equal(usageBounds(LIMITS).maxOutputTokens, 2 * 272 * 2);
    assert.equal(guardUsage(LIMITS, usage(6, 0, 1088)).source, 'upstream');
    const over = guardUsage(LIMITS, usage(6, 0, 1089));
    assert.deepEqual(over.findings, [{ kind: 'usage_output_tokens', field: 'output_tokens', reported: 1089, bound: 1088 }]);
    assert.equal(usageBounds({ ...LIMITS, partialImages: 3 }).maxOutputTokens, 2 * (272 + 300) * 2);
    assert.equal(usageBounds({ ...LIMITS, quality: 'high', size: { width: 1536, height: 1024 } }).maxOutputTokens, 2 * 6208 * 2);
  });

  it('text tokens: at most one per UTF-8 byte of the prompt plus framing, per upstream call', () => {
    assert.equal(usageBounds(LIMITS).maxTextTokens, 20 + 16);
    assert.equal(guardUsage(LIMITS, usage(36, 0, 544)).source, 'upstream');
    assert.equal(guardUsage(LIMITS, usage(37, 0, 544)).findings[0]?.kind, 'usage_text_tokens');
    // An emoji is two UTF-16 units but four bytes, and a byte-level tokenizer may bill it so.
    assert.equal(usageBounds({ ...LIMITS, prompt: '🌊🌊' }).maxTextTokens, 8 + 16);
    // Fanned out over two calls, each call sends (and bills) the prompt.
    assert.equal(usageBounds({ ...LIMITS, upstreamCalls: 2 }).maxTextTokens, 2 * 36);
    // Retries are not parts: never more calls counted than images.
    assert.equal(usageBounds({ ...LIMITS, upstreamCalls: 5 }).maxTextTokens, 2 * 36);
  });

  it('input image tokens: none for a generation, up to eight times the estimate for an edit', () => {
    assert.equal(guardUsage(LIMITS, usage(6, 1, 544)).findings[0]?.kind, 'usage_image_tokens');
    const edit = { ...LIMITS, imageInputTokens: 765 };
    assert.equal(guardUsage(edit, usage(6, 8 * 765, 544)).source, 'upstream');
    const absurd = guardUsage(edit, usage(6, 8 * 765 + 1, 544));
    assert.equal(absurd.findings[0]?.kind, 'usage_image_tokens');
    assert.deepEqual(absurd.usage, computeUsage(gptImage1, 'low', { width: 1024, height: 1024 }, 2, 'a lighthouse at dusk', 765));
  });

  it('the $40,000 report: a billion output tokens are replaced, reported with channel and model', () => {
    const reported: MoneyAnomaly[] = [];
    const request = requestFor({ model: 'gpt-image-1', prompt: 'a lighthouse at dusk', quality: 'low', n: 2 });
    const result = trustedUsage(
      { report: (anomaly) => reported.push(anomaly) },
      { request, size: request.size, reported: usage(6, 0, 1_000_000_000), imageInputTokens: 0, upstreamCalls: 1, channel: 'primary', requestId: 'req_1' },
    );
    assert.deepEqual(result, estimate);
    assert.deepEqual(reported, [
      {
        kind: 'usage_output_tokens',
        model: 'gpt-image-1',
        channel: 'primary',
        requestId: 'req_1',
        detail: { field: 'output_tokens', reported: 1_000_000_000, bound: 1088 },
      },
    ]);
  });

  it('the hold covers the most text the guard accepts and the partial images a stream bills', () => {
    const plain = requestFor({ model: 'gpt-image-1', prompt: 'a lighthouse at dusk', quality: 'low' });
    // (20 + 16) text tokens at $5/M + 272 output tokens at $40/M.
    assert.equal(maxCostMicroUsd(plain), 36 * 5 + 272 * 40);
    const streamed = requestFor({ model: 'gpt-image-1', prompt: 'a lighthouse at dusk', quality: 'low', stream: true, partial_images: 2 });
    assert.equal(maxCostMicroUsd(streamed), 36 * 5 + (272 + 200) * 40);
  });
});
