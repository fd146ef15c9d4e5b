import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLiftingBase64, restoreBase64 } from '../../src/providers/shared/lift-base64.ts';

function roundTrip(text: string): unknown {
  const lifted = parseLiftingBase64(Buffer.from(text, 'utf8'));
  if (lifted === null) return null;
  const used = new Set<number>();
  const data = (lifted.json as { data: Array<Record<string, unknown>> }).data.map((item) => ({
    ...item,
    b64_json: asText(restoreBase64(typeof item['b64_json'] === 'string' ? item['b64_json'] : null, lifted.base64, used)),
  }));
  return { ...(lifted.json as object), data, _used: used.size, _lifted: lifted.base64.length };
}

/** Lifted values are views into the raw bytes; as text for comparing with the parsed body. */
function asText(value: string | Buffer | null | undefined): string | null | undefined {
  return Buffer.isBuffer(value) ? value.toString('latin1') : value;
}

describe('parseLiftingBase64', () => {
  it('lifts each b64_json and parses the rest to the same value', () => {
    const body = { created: 1, data: [{ b64_json: 'QUJD' }, { revised_prompt: 'ünï "q"', b64_json: 'REVGRw==' }], usage: { total_tokens: 3 } };
    const result = roundTrip(JSON.stringify(body, null, 1)) as Record<string, unknown>;
    assert.deepEqual({ ...result, _used: undefined, _lifted: undefined }, { ...body, _used: undefined, _lifted: undefined });
    assert.equal(result['_used'], 2);
  });

  it('gives up (null) on an escape inside the value, and on a body with no image', () => {
    assert.equal(parseLiftingBase64(Buffer.from('{"data":[{"b64_json":"QU\\/JD"}]}')), null);
    assert.equal(parseLiftingBase64(Buffer.from('{"data":[{"url":"http://x"}]}')), null);
    assert.equal(parseLiftingBase64(Buffer.from('{"data":[{"b64_json":"QUJD"')), null);
  });

  it('a marker inside another string is lifted but never used, so the caller can tell', () => {
    const text = JSON.stringify({ data: [{ b64_json: 'QUJD', revised_prompt: 'say "b64_json":"x" now' }] });
    const result = roundTrip(text) as Record<string, unknown> | null;
    // Either refused outright or detectable by an unused lifted value; never a wrong image.
    if (result !== null) {
      const data = result['data'] as Array<Record<string, unknown>>;
      assert.equal(data[0]?.['b64_json'], 'QUJD');
    }
  });
});
