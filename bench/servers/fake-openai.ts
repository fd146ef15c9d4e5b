// A fake OpenAI images upstream for the benchmark: answers every POST with one prebuilt
// gpt-image-1 response carrying ~1.4 MB of b64_json (a 1024x1024 PNG), as fast as node can send it.
// Run as a child process; prints its port on stdout.
import { randomFillSync } from 'node:crypto';
import { createServer } from 'node:http';
import sharp from 'sharp';

const WIDTH = 1024;
const HEIGHT = 1024;
const raw = Buffer.alloc(WIDTH * HEIGHT * 3, 0x60);
// Noise in the top third keeps the PNG near 1 MB (so its base64 is ~1.4 MB) like a real picture.
randomFillSync(raw, 0, raw.length / 3);
const png = await sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
  .png({ compressionLevel: 1 })
  .toBuffer();
const body = Buffer.from(
  JSON.stringify({
    created: 1_790_000_000,
    background: 'opaque',
    output_format: 'png',
    quality: 'low',
    size: `${WIDTH}x${HEIGHT}`,
    usage: { input_tokens: 10, input_tokens_details: { text_tokens: 10, image_tokens: 0 }, output_tokens: 272, total_tokens: 282 },
    data: [{ b64_json: png.toString('base64') }],
  }),
);
const delayMs = Number(process.argv[2] ?? '0');

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const send = (): void => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
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
