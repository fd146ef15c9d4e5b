import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import type { OutputFormat } from '../../src/catalog/index.ts';
import { headerFromSharp, readImageHeader, type ImageHeader } from '../../src/media/image-header.ts';
import { HEADER_ONLY } from '../../src/media/pixel-limit.ts';
import { sniffImageFormat } from '../../src/media/sniff.ts';
import { structuredPixels } from '../support/images.ts';

/*
 * The plain-code header reader must never disagree with sharp: for every file it either returns
 * null (the caller then asks sharp) or exactly what sharp's metadata says. The corpus is written
 * by sharp itself, plus hand-built variants of the chunks and segments each rule is about.
 */

/** A picture with some structure, so encoders do not collapse it; the alpha varies too. */
function pixels(width: number, height: number, channels: 3 | 4): Buffer {
  return structuredPixels(width, height, channels, 40);
}

function image(width: number, height: number, channels: 3 | 4 = 3): sharp.Sharp {
  return sharp(pixels(width, height, channels), { raw: { width, height, channels } });
}

/** What sharp says, in the reader's terms (spelled out here rather than through headerFromSharp). */
async function sharpHeader(bytes: Buffer): Promise<ImageHeader> {
  const meta = await sharp(bytes, HEADER_ONLY).metadata();
  return {
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    orientation: meta.orientation ?? 1,
    hasAlpha: meta.hasAlpha,
    cmyk: meta.space === 'cmyk',
    pages: meta.pages ?? 1,
  };
}

function formatOf(bytes: Buffer): OutputFormat {
  const format = sniffImageFormat(bytes);
  assert.ok(format !== null, 'a corpus file is a png, jpeg or webp');
  return format;
}

/** The reader's answer, after checking that it is null or what sharp says. */
async function readAndCompare(name: string, bytes: Buffer): Promise<ImageHeader | null> {
  const header = readImageHeader(bytes, formatOf(bytes));
  if (header !== null) assert.deepEqual(header, await sharpHeader(bytes), `${name}: the reader disagrees with sharp`);
  return header;
}

// --- PNG building blocks (RFC 2083 §3.2: length, type, data, CRC over type and data) ----------

function pngChunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  typeAndData.copy(out, 4);
  out.writeUInt32BE(crc32(typeAndData), 8 + data.length);
  return out;
}

/** Offsets and types of the chunks in a PNG. */
function pngChunks(png: Buffer): Array<{ offset: number; type: string }> {
  const chunks: Array<{ offset: number; type: string }> = [];
  let offset = 8;
  while (offset + 12 <= png.length) {
    chunks.push({ offset, type: png.toString('latin1', offset + 4, offset + 8) });
    offset += 12 + png.readUInt32BE(offset);
  }
  return chunks;
}

/** `png` with `chunks` inserted just before its first chunk of type `before`. */
function insertPngChunks(png: Buffer, chunks: Buffer[], before = 'IDAT'): Buffer {
  const at = pngChunks(png).find((c) => c.type === before)?.offset;
  assert.ok(at !== undefined);
  return Buffer.concat([png.subarray(0, at), ...chunks, png.subarray(at)]);
}

/** `png` without its chunks of type `type`. */
function dropPngChunks(png: Buffer, type: string): Buffer {
  const parts = [png.subarray(0, 8)];
  for (const chunk of pngChunks(png)) {
    const end = chunk.offset + 12 + png.readUInt32BE(chunk.offset);
    if (chunk.type !== type) parts.push(png.subarray(chunk.offset, end));
  }
  return Buffer.concat(parts);
}

/** Recomputes every chunk's CRC, so a mutation reaches the checks behind the CRC. */
function fixPngCrcs(png: Buffer): Buffer {
  const out = Buffer.from(png);
  let offset = 8;
  while (offset + 12 <= out.length) {
    const end = offset + 8 + out.readUInt32BE(offset);
    if (end + 4 > out.length) break;
    out.writeUInt32BE(crc32(out.subarray(offset + 4, end)), end);
    offset = end + 4;
  }
  return out;
}

// --- JPEG building blocks (ITU T.81 §B.1.1.4: marker, 2-byte length counting itself, data) ----

function jpegSegment(marker: number, data: Buffer): Buffer {
  const out = Buffer.alloc(4 + data.length);
  out[0] = 0xff;
  out[1] = marker;
  out.writeUInt16BE(2 + data.length, 2);
  data.copy(out, 4);
  return out;
}

/** `jpeg` with `segments` right after SOI. */
function insertJpegSegments(jpeg: Buffer, segments: Buffer[]): Buffer {
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** `jpeg` without its APP1 segments (sharp writes its EXIF there). */
function dropJpegApp1(jpeg: Buffer): Buffer {
  const parts = [jpeg.subarray(0, 2)];
  let offset = 2;
  while (offset + 4 <= jpeg.length && jpeg[offset + 1] !== 0xda) {
    const end = offset + 2 + jpeg.readUInt16BE(offset + 2);
    if (jpeg[offset + 1] !== 0xe1) parts.push(jpeg.subarray(offset, end));
    offset = end;
  }
  parts.push(jpeg.subarray(offset));
  return Buffer.concat(parts);
}

/** An APP1 Exif segment whose IFD0 holds one Orientation entry of the given TIFF type and value. */
function exifApp1(orientation: number, order: 'II' | 'MM', options: { type?: number; count?: number; entries?: number } = {}): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  const little = order === 'II';
  const u16 = (value: number, at: number): void => void (little ? tiff.writeUInt16LE(value, at) : tiff.writeUInt16BE(value, at));
  const u32 = (value: number, at: number): void => void (little ? tiff.writeUInt32LE(value, at) : tiff.writeUInt32BE(value, at));
  tiff.write(order, 0, 'latin1');
  u16(42, 2);
  u32(8, 4); // IFD0 right after the header
  u16(options.entries ?? 1, 8);
  u16(0x0112, 10);
  u16(options.type ?? 3, 12);
  u32(options.count ?? 1, 14);
  if ((options.type ?? 3) === 4) u32(orientation, 18);
  else u16(orientation, 18);
  u32(0, 22); // no IFD1
  return jpegSegment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]));
}

/** The index of the first byte of a marker segment in a JPEG, by marker code. */
function jpegMarkerOffset(jpeg: Buffer, marker: number): number {
  let offset = 2;
  while (offset + 4 <= jpeg.length) {
    if (jpeg[offset + 1] === marker) return offset;
    offset += 2 + jpeg.readUInt16BE(offset + 2);
  }
  assert.fail(`no marker 0x${marker.toString(16)}`);
}

// --- WebP building blocks (RFC 9649 §2: RIFF, chunks padded to an even size) ------------------

function webpChunk(fourcc: string, data: Buffer): Buffer {
  const out = Buffer.alloc(8 + data.length + (data.length % 2));
  out.write(fourcc, 0, 'latin1');
  out.writeUInt32LE(data.length, 4);
  data.copy(out, 8);
  return out;
}

function riff(chunks: Buffer[]): Buffer {
  const body = Buffer.concat(chunks);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(4 + body.length, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, body]);
}

/** The chunks of a WebP, by FourCC (the first of each). */
function webpChunks(webp: Buffer): Map<string, Buffer> {
  const chunks = new Map<string, Buffer>();
  let offset = 12;
  while (offset + 8 <= webp.length) {
    const size = webp.readUInt32LE(offset + 4);
    const fourcc = webp.toString('latin1', offset, offset + 4);
    if (!chunks.has(fourcc)) chunks.set(fourcc, webp.subarray(offset, offset + 8 + size + (size % 2)));
    offset += 8 + size + (size % 2);
  }
  return chunks;
}

function vp8x(flags: number, width: number, height: number): Buffer {
  const data = Buffer.alloc(10);
  data[0] = flags;
  data.writeUIntLE(width - 1, 4, 3);
  data.writeUIntLE(height - 1, 7, 3);
  return webpChunk('VP8X', data);
}

function chunkOf(chunks: Map<string, Buffer>, fourcc: string): Buffer {
  const chunk = chunks.get(fourcc);
  assert.ok(chunk !== undefined, `a ${fourcc} chunk`);
  return chunk;
}

// --- The corpus -------------------------------------------------------------------------------

interface Sample {
  readonly bytes: Buffer;
  /** The plain cases a model upstream really sends: the reader must answer them itself. */
  readonly fast?: boolean;
}

async function corpus(): Promise<Map<string, Sample>> {
  const samples = new Map<string, Sample>();
  const add = (name: string, bytes: Buffer, fast = false): void => void samples.set(name, { bytes, fast });

  // PNG: every colour type, bit depths, interlacing, and the ancillary chunks that matter.
  const rgb = await image(40, 30).png().toBuffer();
  add('png rgb', rgb, true);
  add('png rgba', await image(40, 30, 4).png().toBuffer(), true);
  add('png rgb interlaced', await image(40, 30).png({ progressive: true }).toBuffer(), true);
  add('png grey', await image(40, 30).toColourspace('b-w').png().toBuffer());
  add('png grey+alpha', await image(40, 30, 4).toColourspace('b-w').png().toBuffer());
  add('png grey 16-bit', await image(40, 30).toColourspace('grey16').png().toBuffer());
  add('png rgb 16-bit', await image(40, 30).toColourspace('rgb16').png().toBuffer());
  add('png rgba 16-bit', await image(40, 30, 4).toColourspace('rgb16').png().toBuffer());
  add('png palette', await image(40, 30).png({ palette: true }).toBuffer());
  add('png palette 1-bit', await image(40, 30).png({ palette: true, colours: 2 }).toBuffer());
  const paletteAlpha = await image(40, 30, 4).png({ palette: true }).toBuffer();
  assert.ok(pngChunks(paletteAlpha).some((c) => c.type === 'tRNS'));
  add('png palette with tRNS', paletteAlpha);
  add('png with an ICC profile', await image(40, 30).png().withIccProfile('p3').toBuffer());
  add('png rgb + tRNS', insertPngChunks(rgb, [pngChunk('tRNS', Buffer.from([0, 10, 0, 20, 0, 30]))]));
  const grey = await image(40, 30).toColourspace('b-w').png().toBuffer();
  add('png grey + tRNS', insertPngChunks(grey, [pngChunk('tRNS', Buffer.from([0, 10]))]));
  const grey16 = await image(40, 30).toColourspace('grey16').png().toBuffer();
  add('png grey 16-bit + tRNS', insertPngChunks(grey16, [pngChunk('tRNS', Buffer.from([1, 2]))]));
  add('png rgb + tRNS of the wrong length', insertPngChunks(rgb, [pngChunk('tRNS', Buffer.from([0, 10]))]));
  const badCrc = insertPngChunks(rgb, [pngChunk('tRNS', Buffer.from([0, 10, 0, 20, 0, 30]))]);
  const trnsCrcAt = (pngChunks(badCrc).find((c) => c.type === 'tRNS')?.offset ?? 0) + 8 + 6;
  badCrc.writeUInt32BE((badCrc.readUInt32BE(trnsCrcAt) ^ 1) >>> 0, trnsCrcAt);
  add('png rgb + tRNS with a bad CRC', badCrc);
  const palette = await image(40, 30).png({ palette: true }).toBuffer();
  add('png palette + tRNS before PLTE', insertPngChunks(palette, [pngChunk('tRNS', Buffer.from([0]))], 'PLTE'));
  add('png rgba + tRNS', insertPngChunks(await image(40, 30, 4).png().toBuffer(), [pngChunk('tRNS', Buffer.from([0, 10, 0, 20, 0, 30]))]));
  add('png with EXIF orientation 6', await image(40, 30).png().withMetadata({ orientation: 6 }).toBuffer());
  add('png with an acTL chunk', insertPngChunks(rgb, [pngChunk('acTL', Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]))]));
  const parameters = Buffer.from(`parameters\0${'a photo of a cat, '.repeat(6000)}`, 'latin1');
  add('png with a large tEXt (as Stable Diffusion UIs write)', insertPngChunks(rgb, [pngChunk('tEXt', parameters)]), true);
  add(
    'png with gAMA, cHRM, sRGB, bKGD, tIME',
    insertPngChunks(rgb, [
      pngChunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f])),
      pngChunk('cHRM', Buffer.alloc(32, 1)),
      pngChunk('sRGB', Buffer.from([0])),
      pngChunk('bKGD', Buffer.from([0, 255, 0, 255, 0, 255])),
      pngChunk('tIME', Buffer.from([7, 233, 1, 2, 3, 4, 5])),
    ]),
  );
  add('png with a zTXt Raw profile', insertPngChunks(rgb, [pngChunk('zTXt', Buffer.from('Raw profile type exif\0\0x', 'latin1'))]));
  add('png with an unknown ancillary chunk', insertPngChunks(rgb, [pngChunk('caBX', Buffer.from('c2pa'))]));
  add('png with an unknown critical chunk', insertPngChunks(rgb, [pngChunk('CABX', Buffer.from('c2pa'))]));
  add('png palette without PLTE', dropPngChunks(palette, 'PLTE'));

  // JPEG: baseline, progressive, greyscale, CMYK (Adobe transform 0 and, patched, YCCK), EXIF.
  const jpeg = await image(40, 30).jpeg().toBuffer();
  add('jpeg baseline', jpeg, true);
  add('jpeg progressive', await image(40, 30).jpeg({ progressive: true }).toBuffer(), true);
  add('jpeg mozjpeg (progressive, optimised scans)', await image(40, 30).jpeg({ mozjpeg: true }).toBuffer(), true);
  add('jpeg 4:4:4', await image(40, 30).jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(), true);
  add('jpeg greyscale', await image(40, 30).toColourspace('b-w').jpeg().toBuffer());
  add('jpeg with an ICC profile', await image(40, 30).jpeg().withIccProfile('p3').toBuffer(), true);
  const cmyk = await image(40, 30).toColourspace('cmyk').jpeg().toBuffer();
  add('jpeg cmyk', cmyk);
  const adobe = jpegMarkerOffset(cmyk, 0xee);
  assert.equal(cmyk.toString('latin1', adobe + 4, adobe + 9), 'Adobe');
  const ycck = Buffer.from(cmyk);
  ycck[adobe + 4 + 11] = 2; // Adobe APP14 transform: 2 = YCCK
  add('jpeg ycck', ycck);
  for (let orientation = 1; orientation <= 8; orientation += 1) {
    add(`jpeg with EXIF orientation ${orientation} (sharp)`, await image(40, 30).jpeg().withMetadata({ orientation }).toBuffer());
    for (const order of ['II', 'MM'] as const) {
      add(`jpeg with EXIF orientation ${orientation} (${order})`, insertJpegSegments(jpeg, [exifApp1(orientation, order)]));
    }
  }
  add('jpeg with EXIF but no orientation', await image(40, 30).jpeg().keepExif().toBuffer());
  add('jpeg with EXIF orientation 0', insertJpegSegments(jpeg, [exifApp1(0, 'II')]));
  add('jpeg with EXIF orientation 9', insertJpegSegments(jpeg, [exifApp1(9, 'MM')]));
  add('jpeg with EXIF orientation as a LONG', insertJpegSegments(jpeg, [exifApp1(6, 'II', { type: 4 })]));
  add('jpeg with EXIF orientation of 2 values', insertJpegSegments(jpeg, [exifApp1(6, 'II', { count: 2 })]));
  add('jpeg with an IFD0 running past the segment', insertJpegSegments(jpeg, [exifApp1(6, 'II', { entries: 40 })]));
  add('jpeg with two EXIF segments', insertJpegSegments(jpeg, [exifApp1(6, 'II'), exifApp1(3, 'II')]));
  add('jpeg with a COM segment', insertJpegSegments(jpeg, [jpegSegment(0xfe, Buffer.from('made by a model'))]), true);
  const arithmetic = Buffer.from(jpeg);
  arithmetic[jpegMarkerOffset(jpeg, 0xc0) + 1] = 0xc9; // SOF9: arithmetic coding
  add('jpeg with an arithmetic-coding frame marker', arithmetic);

  // WebP: both simple formats, the extended format with and without alpha, ICC, EXIF, animation.
  const lossy = await image(40, 30).webp().toBuffer();
  add('webp lossy', lossy, true);
  const lossyAlpha = await image(40, 30, 4).webp().toBuffer();
  add('webp lossy + alpha', lossyAlpha, true);
  const lossless = await image(40, 30).webp({ lossless: true }).toBuffer();
  add('webp lossless', lossless, true);
  const losslessAlpha = await image(40, 30, 4).webp({ lossless: true }).toBuffer();
  add('webp lossless + alpha', losslessAlpha, true);
  add('webp with an ICC profile', await image(40, 30).webp().withIccProfile('p3').toBuffer());
  add('webp with EXIF orientation 6', await image(40, 30).webp().withMetadata({ orientation: 6 }).toBuffer());
  const frames = await Promise.all([image(40, 30).png().toBuffer(), image(40, 30, 4).png().toBuffer()]);
  add(
    'webp animated',
    await sharp(frames, { join: { animated: true } })
      .webp()
      .toBuffer(),
  );
  const vp8 = chunkOf(webpChunks(lossy), 'VP8 ');
  const vp8l = chunkOf(webpChunks(lossless), 'VP8L');
  const vp8lAlpha = chunkOf(webpChunks(losslessAlpha), 'VP8L');
  const alph = chunkOf(webpChunks(lossyAlpha), 'ALPH');
  add('webp VP8X without flags', riff([vp8x(0, 40, 30), vp8]));
  add('webp VP8X alpha flag, no ALPH', riff([vp8x(0x10, 40, 30), vp8]));
  add('webp VP8X ALPH without the alpha flag', riff([vp8x(0, 40, 30), alph, chunkOf(webpChunks(lossyAlpha), 'VP8 ')]));
  add('webp VP8X lossless, alpha flag', riff([vp8x(0x10, 40, 30), vp8l]));
  add('webp VP8X lossless with alpha, no flag', riff([vp8x(0, 40, 30), vp8lAlpha]));
  add('webp VP8X with an unknown chunk', riff([vp8x(0, 40, 30), vp8, webpChunk('c2pa', Buffer.from('manifest'))]));
  add('webp VP8X canvas larger than the frame', riff([vp8x(0, 41, 30), vp8]));
  add('webp VP8X EXIF chunk without the flag', riff([vp8x(0, 40, 30), vp8, webpChunk('EXIF', exifApp1(6, 'II').subarray(10))]));
  add('webp VP8X with a reserved flag', riff([vp8x(0x01, 40, 30), vp8]));
  add('webp simple with a trailing chunk', riff([vp8, webpChunk('XMP ', Buffer.from('<x/>'))]));
  return samples;
}

/** FUZZ_RUNS raises the count for a longer hunt; FUZZ_SEED replays a failure (as in test/fuzz/). */
const FUZZ_RUNS = Number(process.env['FUZZ_RUNS'] ?? 1500);
const FUZZ_SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);

/** What the fuzz test mutates: small files, one per branch of the reader. */
async function seeds(): Promise<Buffer[]> {
  const rgb = await image(16, 12).png().toBuffer();
  return [
    rgb,
    insertPngChunks(rgb, [pngChunk('tRNS', Buffer.from([0, 10, 0, 20, 0, 30])), pngChunk('tEXt', Buffer.from('k\0v'))]),
    await image(16, 12, 4).png({ palette: true }).toBuffer(),
    insertJpegSegments(await image(16, 12).jpeg().toBuffer(), [exifApp1(6, 'MM')]),
    await image(16, 12).jpeg({ progressive: true }).toBuffer(),
    await image(16, 12).toColourspace('cmyk').jpeg().toBuffer(),
    await image(16, 12).webp().toBuffer(),
    await image(16, 12, 4).webp().toBuffer(),
    await image(16, 12, 4).webp({ lossless: true }).toBuffer(),
  ];
}

describe('readImageHeader', () => {
  it('returns null or exactly what sharp says, for every file in the corpus', async () => {
    for (const [name, sample] of await corpus()) await readAndCompare(name, sample.bytes);
  });

  it('answers by itself for the plain files upstreams send', async () => {
    for (const [name, sample] of await corpus()) {
      if (sample.fast === true) assert.notEqual(readImageHeader(sample.bytes, formatOf(sample.bytes)), null, name);
    }
  });

  it('reads size, alpha and colour space', async () => {
    const expect = async (sharpImage: sharp.Sharp, header: Partial<ImageHeader>): Promise<void> => {
      const bytes = await sharpImage.toBuffer();
      const read = readImageHeader(bytes, formatOf(bytes));
      assert.ok(read !== null);
      assert.deepEqual({ ...read, ...header }, read);
    };
    await expect(image(40, 30).png(), { width: 40, height: 30, hasAlpha: false, cmyk: false, orientation: 1, pages: 1 });
    await expect(image(40, 30, 4).png(), { hasAlpha: true });
    await expect(image(40, 30, 4).png({ palette: true }), { hasAlpha: true });
    await expect(image(40, 30).jpeg({ progressive: true }), { width: 40, height: 30, hasAlpha: false });
    await expect(image(40, 30).toColourspace('cmyk').jpeg(), { cmyk: true, hasAlpha: false });
    await expect(image(40, 30, 4).webp(), { width: 40, height: 30, hasAlpha: true });
    await expect(image(40, 30).webp({ lossless: true }), { hasAlpha: false });
    await expect(image(40, 30, 4).webp({ lossless: true }), { hasAlpha: true });
  });

  it('applies the EXIF orientation of a jpeg: 5–8 swap width and height', async () => {
    const jpeg = await image(40, 30).jpeg().toBuffer();
    for (let orientation = 1; orientation <= 8; orientation += 1) {
      for (const order of ['II', 'MM'] as const) {
        const header = readImageHeader(insertJpegSegments(jpeg, [exifApp1(orientation, order)]), 'jpeg');
        const size = orientation >= 5 ? { width: 30, height: 40 } : { width: 40, height: 30 };
        assert.deepEqual(header, { ...size, orientation, hasAlpha: false, cmyk: false, pages: 1 }, `${order} ${orientation}`);
      }
    }
    // sharp's own EXIF, with more tags than the orientation.
    const sharpExif = await image(40, 30).jpeg().withMetadata({ orientation: 7 }).toBuffer();
    assert.deepEqual(readImageHeader(sharpExif, 'jpeg'), { width: 30, height: 40, orientation: 7, hasAlpha: false, cmyk: false, pages: 1 });
    assert.equal(readImageHeader(dropJpegApp1(sharpExif), 'jpeg')?.orientation, 1);
  });

  it('leaves to sharp what it cannot vouch for', async () => {
    const samples = await corpus();
    for (const name of [
      'png with EXIF orientation 6',
      'png with an acTL chunk',
      'png rgb + tRNS with a bad CRC',
      'png with a zTXt Raw profile',
      'png with an unknown critical chunk',
      'jpeg with EXIF orientation 9',
      'jpeg with two EXIF segments',
      'jpeg with an arithmetic-coding frame marker',
      'webp animated',
      'webp with EXIF orientation 6',
      'webp VP8X with a reserved flag',
    ]) {
      const bytes = samples.get(name)?.bytes;
      assert.ok(bytes !== undefined, name);
      assert.equal(readImageHeader(bytes, formatOf(bytes)), null, name);
    }
  });

  it('never throws on garbage and truncation, and returns null for what cannot be read', async () => {
    const all = [...(await corpus()).values()].map((s) => s.bytes);
    for (const bytes of all) {
      const format = formatOf(bytes);
      for (let length = 0; length < Math.min(bytes.length, 400); length += 1) readImageHeader(bytes.subarray(0, length), format);
      // A valid signature followed by noise.
      for (let i = 0; i < 20; i += 1) {
        const noise = Buffer.concat([bytes.subarray(0, 12), Buffer.from(Array.from({ length: 64 }, (_, j) => (i * 131 + j * 71) & 0xff))]);
        readImageHeader(noise, format);
      }
    }
    const rgb = await image(16, 12).png().toBuffer();
    const huge = insertPngChunks(rgb, [pngChunk('tEXt', Buffer.from('k\0v'))]);
    huge.writeUInt32BE(0xffff_fff0, pngChunks(huge).find((c) => c.type === 'tEXt')?.offset ?? 0);
    assert.equal(readImageHeader(huge, 'png'), null);
    assert.equal(readImageHeader(Buffer.from([0xff, 0xd8, 0xff]), 'jpeg'), null);
    assert.equal(readImageHeader(Buffer.from('RIFF\xff\xff\xff\xffWEBPVP8 ', 'latin1'), 'webp'), null);
    assert.equal(readImageHeader(Buffer.alloc(0), 'png'), null);
  });

  it('never disagrees with sharp on mutated headers (fuzz)', async () => {
    const files = await seeds();
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: files.length - 1 }),
        fc.array(fc.record({ at: fc.nat({ max: 700 }), value: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.option(fc.nat({ max: 800 })),
        async (which, edits, fixCrcs, cut) => {
          const seed = files[which] ?? Buffer.alloc(0);
          let bytes: Buffer = Buffer.from(seed.subarray(0, cut ?? seed.length));
          for (const edit of edits) if (edit.at < bytes.length) bytes[edit.at] = edit.value;
          if (fixCrcs && seed[1] === 0x50) bytes = fixPngCrcs(bytes);
          const header = readImageHeader(bytes, formatOf(seed));
          if (header === null) return;
          let fromSharp: ImageHeader;
          try {
            fromSharp = await sharpHeader(bytes);
          } catch (err) {
            assert.fail(`the reader read ${JSON.stringify(header)} where sharp fails (${String(err)}): ${bytes.subarray(0, 64).toString('hex')}`);
          }
          assert.deepEqual(header, fromSharp);
        },
      ),
      { numRuns: FUZZ_RUNS, ...(FUZZ_SEED === undefined ? {} : { seed: FUZZ_SEED }) },
    );
  });
});

describe('headerFromSharp', () => {
  it('maps sharp metadata, orientation applied', async () => {
    const jpeg = await image(40, 30).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    assert.deepEqual(headerFromSharp(await sharp(jpeg).metadata()), { width: 30, height: 40, orientation: 6, hasAlpha: false, cmyk: false, pages: 1 });
    const frames = await Promise.all([image(8, 6).png().toBuffer(), image(8, 6, 4).png().toBuffer()]);
    const animated = await sharp(frames, { join: { animated: true } })
      .webp()
      .toBuffer();
    assert.equal(headerFromSharp(await sharp(animated).metadata()).pages, 2);
    const cmyk = await image(8, 6).toColourspace('cmyk').jpeg().toBuffer();
    assert.equal(headerFromSharp(await sharp(cmyk).metadata()).cmyk, true);
  });
});
