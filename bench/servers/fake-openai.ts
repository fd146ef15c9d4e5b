// A fake OpenAI images upstream for the benchmark: answers every POST with a gpt-image-1 response
// carrying ~1.4 MB of b64_json (a 1024x1024 PNG), as fast as node can send it. Every answer is a
// different image (a counter in a PNG tEXt chunk), so the gateway's content-addressed store really
// writes (and fsyncs) each one instead of finding it already stored.
// Run as a child process: fake-openai.ts [delayMs]; prints its port and body size on stdout.
// BENCH_SAME_IMAGE=1 sends the same image every time, as the benchmark did before 2026-12-07 (the
// gateway then stores one blob and skips every later write).
import { randomFillSync } from 'node:crypto';
import { createServer } from 'node:http';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

const WIDTH = 1024;
const HEIGHT = 1024;
const raw = Buffer.alloc(WIDTH * HEIGHT * 3, 0x60);
// Noise in the top third keeps the PNG near 1 MB (so its base64 is ~1.4 MB) like a real picture.
randomFillSync(raw, 0, raw.length / 3);
const png = await sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
  .png({ compressionLevel: 1 })
  .toBuffer();

// The tEXt chunk goes right after IHDR: the signature (8 bytes) and IHDR (25) end at byte 33, and
// the chunk is 24 bytes, both multiples of 3, so its base64 is 32 characters of its own that can be
// swapped into the prebuilt answer without encoding the rest again (RFC 2083 §4.2.3: keyword,
// NUL, text; the CRC covers type and data).
const CHUNK_AT_BYTES = 33;
const TEXT_BYTES = 12; // "id" NUL and 9 digits
function textChunk(counter: number): Buffer {
  const chunk = Buffer.alloc(12 + TEXT_BYTES);
  chunk.writeUInt32BE(TEXT_BYTES, 0);
  chunk.write('tEXt', 4, 'latin1');
  chunk.write(`id\u0000${String(counter % 1e9).padStart(9, '0')}`, 8, 'latin1');
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + TEXT_BYTES)), 8 + TEXT_BYTES);
  return chunk;
}
const image = Buffer.concat([png.subarray(0, CHUNK_AT_BYTES), textChunk(0), png.subarray(CHUNK_AT_BYTES)]);
const body = Buffer.from(
  JSON.stringify({
    created: 1_790_000_000,
    background: 'opaque',
    output_format: 'png',
    quality: 'low',
    size: `${WIDTH}x${HEIGHT}`,
    usage: { input_tokens: 10, input_tokens_details: { text_tokens: 10, image_tokens: 0 }, output_tokens: 272, total_tokens: 282 },
    data: [{ b64_json: image.toString('base64') }],
  }),
);
const chunkAtChars = body.indexOf('"b64_json":"') + '"b64_json":"'.length + (CHUNK_AT_BYTES / 3) * 4;
const head = body.subarray(0, chunkAtChars);
const tail = body.subarray(chunkAtChars + ((12 + TEXT_BYTES) / 3) * 4);
let served = 0;
const SAME_IMAGE = process.env['BENCH_SAME_IMAGE'] === '1';

const delayMs = Number(process.argv[2] ?? '0');

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const send = (): void => {
      served += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.cork();
      res.write(head);
      res.write(Buffer.from(textChunk(SAME_IMAGE ? 0 : served).toString('base64'), 'latin1'));
      res.end(tail);
      res.uncork();
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  });
});
server.keepAliveTimeout = 60_000;
server.maxConnections = 5000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`${JSON.stringify({ port: address.port, bodyBytes: body.length })}\n`);
});
