/*
 * Estimates the quality setting a JPEG was saved with, from its luminance quantisation table,
 * without decoding it. libjpeg-family encoders (libjpeg-turbo, mozjpeg with its default tables,
 * as sharp uses) scale the JPEG Annex K table K.1 by quality exactly as below (IJG jcparam.c,
 * `jpeg_quality_scaling`), so matching the table's sum against each scaled candidate recovers
 * the setting; other encoders give the nearest equivalent. Comparing sums keeps it independent of
 * the zig-zag order tables are stored in.
 */

/** JPEG Annex K, table K.1 (luminance), natural order. */
const ANNEX_K_LUMINANCE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103,
  77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
] as const;

/** Sum of the Annex K luminance table as an IJG encoder writes it at each quality, index = quality. */
const SUM_BY_QUALITY: readonly number[] = Array.from({ length: 101 }, (_, quality) => {
  const q = Math.max(1, quality);
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - q * 2;
  let sum = 0;
  for (const basic of ANNEX_K_LUMINANCE) sum += Math.min(255, Math.max(1, Math.floor((basic * scale + 50) / 100)));
  return sum;
});

/** The quality (1–100) a JPEG was most likely saved with, or `null` when it has no readable table 0. */
export function estimateJpegQuality(bytes: Buffer): number | null {
  const sum = luminanceTableSum(bytes);
  if (sum === null) return null;
  let best = 1;
  let bestError = Number.POSITIVE_INFINITY;
  for (let quality = 1; quality <= 100; quality += 1) {
    const error = Math.abs((SUM_BY_QUALITY[quality] ?? 0) - sum);
    // `<=` so a tie picks the higher quality: asking to re-encode is the costlier mistake.
    if (error <= bestError) {
      best = quality;
      bestError = error;
    }
  }
  return best;
}

/** Walks the marker segments (ITU T.81 §B.1) up to the first scan, summing DQT table 0. */
function luminanceTableSum(bytes: Buffer): number | null {
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return null;
    const marker = bytes[offset + 1] ?? 0;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan started without a table 0
    const segmentBytes = bytes.readUInt16BE(offset + 2);
    const end = offset + 2 + segmentBytes;
    if (end > bytes.length) return null;
    if (marker === 0xdb) {
      let table = offset + 4;
      while (table < end) {
        const precision = (bytes[table] ?? 0) >> 4;
        const id = (bytes[table] ?? 0) & 0x0f;
        const entryBytes = precision === 0 ? 1 : 2;
        if (table + 1 + 64 * entryBytes > end) return null;
        if (id === 0) {
          let sum = 0;
          for (let i = 0; i < 64; i += 1) {
            const at = table + 1 + i * entryBytes;
            sum += entryBytes === 1 ? (bytes[at] ?? 0) : bytes.readUInt16BE(at);
          }
          return sum;
        }
        table += 1 + 64 * entryBytes;
      }
    }
    offset = end;
  }
  return null;
}
