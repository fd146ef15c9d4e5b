import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { contentKey, contentKeyOffThread, isValidContentKey, parseContentKey } from '../../src/storage/content-key.ts';

const BYTES = Buffer.from('some image bytes');
const HASH32 = createHash('sha256').update(BYTES).digest('hex').slice(0, 32);

describe('contentKey', () => {
  it('is the UTC day, the first 32 hex digits of the SHA-256 and the extension', () => {
    const key = contentKey(BYTES, 'png', new Date('2026-03-04T05:06:07Z'));
    assert.equal(key, `20260304/${HASH32}.png`);
    assert.ok(isValidContentKey(key));
  });

  it('uses the UTC day, not the local one', () => {
    // 23:30 in New York on 1 January is already 2 January in UTC.
    assert.equal(contentKey(BYTES, 'webp', new Date('2026-01-01T23:30:00-05:00')), `20260102/${HASH32}.webp`);
  });

  it('is deterministic and changes with the bytes, the day and the format', () => {
    const day = new Date('2026-01-01T00:00:00Z');
    assert.equal(contentKey(BYTES, 'jpeg', day), contentKey(Buffer.from(BYTES), 'jpeg', day));
    assert.notEqual(contentKey(BYTES, 'jpeg', day), contentKey(Buffer.from('other bytes'), 'jpeg', day));
    assert.notEqual(contentKey(BYTES, 'jpeg', day), contentKey(BYTES, 'jpeg', new Date('2026-01-02T00:00:00Z')));
    assert.notEqual(contentKey(BYTES, 'jpeg', day), contentKey(BYTES, 'png', day));
  });

  it('refuses a date it cannot write as YYYYMMDD', () => {
    assert.throws(() => contentKey(BYTES, 'png', new Date('+010000-01-01T00:00:00Z')), RangeError);
    assert.throws(() => contentKey(BYTES, 'png', new Date(Number.NaN)), RangeError);
  });
});

describe('isValidContentKey', () => {
  it('accepts exactly the keys contentKey makes', () => {
    for (const ext of ['png', 'jpeg', 'webp']) assert.ok(isValidContentKey(`20260101/${HASH32}.${ext}`));
  });

  it('refuses everything else', () => {
    const bad = [
      '',
      `${HASH32}.png`,
      `2026010/${HASH32}.png`,
      `202601011/${HASH32}.png`,
      `20260101/${HASH32.slice(1)}.png`,
      `20260101/${HASH32}0.png`,
      `20260101/${HASH32.toUpperCase()}.png`,
      `20260101/${HASH32}.PNG`,
      `20260101/${HASH32}.jpg`,
      `20260101/${HASH32}.gif`,
      `20260101/${HASH32}.png\n`,
      `20260101/${HASH32}.png/`,
      `/20260101/${HASH32}.png`,
      `20260101//${HASH32}.png`,
      `20260101\\${HASH32}.png`,
      `20260101/../${HASH32}.png`,
      `../20260101/${HASH32}.png`,
      `20260101/${HASH32}.png\0`,
      `２０２６０１０１/${HASH32}.png`,
      '../../etc/passwd',
    ];
    for (const key of bad) assert.equal(isValidContentKey(key), false, JSON.stringify(key));
  });
});

describe('parseContentKey', () => {
  it('takes a valid key apart', () => {
    assert.deepEqual(parseContentKey(`20260101/${HASH32}.webp`), { day: '20260101', hashHex: HASH32, extension: 'webp' });
  });

  it('returns null for an invalid key', () => {
    assert.equal(parseContentKey(`20260101/${HASH32}.gif`), null);
  });
});

describe('contentKeyOffThread', () => {
  it('gives the same key as contentKey', async () => {
    const bytes = Buffer.from('some image bytes');
    const day = new Date('2026-03-04T05:06:07Z');
    assert.equal(await contentKeyOffThread(bytes, 'png', day), contentKey(bytes, 'png', day));
  });
});
