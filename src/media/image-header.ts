import { crc32 } from 'node:zlib';
import type { Metadata } from 'sharp';
import type { OutputFormat } from '../catalog/index.ts';

/*
 * Reads what `reencodeReason` needs from an image's header in plain code, for the path that hands
 * upstream bytes on untouched. sharp's `metadata()` answers the same questions, but every call is
 * a trip through the libuv thread pool and libvips' loader set-up, far more than reading a few
 * header bytes.
 *
 * The reader must never disagree with sharp: the pixels are decoded by libvips whenever they are
 * not handed on, and the client decodes them when they are. So it answers only for files laid
 * out the way it can vouch for, and returns null for anything else (an APNG, an EXIF block in a
 * PNG or WebP, an unknown JPEG frame type, any chunk or segment that breaks a rule one of the
 * decoders enforces), and the caller asks sharp. Each rule below names the spec section that
 * defines the field, and the decoder check (libspng 0.7, libjpeg-turbo/mozjpeg, libwebp's demuxer,
 * libvips 8.17 loaders) that a null mirrors.
 */

/** What the fast path needs to know of an image, as sharp's `metadata()` would report it. */
export interface ImageHeader {
  /** Pixel width once the EXIF orientation is applied (sharp's `autoOrient.width`). */
  readonly width: number;
  /** Pixel height once the EXIF orientation is applied (sharp's `autoOrient.height`). */
  readonly height: number;
  /** EXIF orientation, 1–8; 1 when the image has none. */
  readonly orientation: number;
  readonly hasAlpha: boolean;
  /** CMYK pixels (a 4-component JPEG, YCCK included), which libvips reads as colour space `cmyk`. */
  readonly cmyk: boolean;
  /** Frames: more than one for an animated image. */
  readonly pages: number;
}

/** The same facts from sharp's metadata, for images `readImageHeader` leaves to sharp. */
export function headerFromSharp(meta: Metadata): ImageHeader {
  return {
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    orientation: meta.orientation ?? 1,
    hasAlpha: meta.hasAlpha,
    cmyk: meta.space === 'cmyk',
    pages: meta.pages ?? 1,
  };
}

/**
 * The header of `bytes` (already sniffed as `format`), read without sharp, or `null` when it
 * cannot be sure to agree with sharp's `metadata()`: then ask sharp. Never throws, whatever the
 * bytes.
 */
export function readImageHeader(bytes: Buffer, format: OutputFormat): ImageHeader | null {
  switch (format) {
    case 'png':
      return readPngHeader(bytes);
    case 'jpeg':
      return readJpegHeader(bytes);
    case 'webp':
      return readWebpHeader(bytes);
  }
}

/** A chunk type or FourCC as the big-endian number `readUInt32BE` returns for its four bytes. */
function fourcc(name: string): number {
  return Buffer.from(name, 'latin1').readUInt32BE(0);
}

/**
 * libvips refuses images wider or taller than this (`VIPS_DEFAULT_MAX_COORD`, 100 million; the
 * `VIPS_MAX_COORD` environment variable can lower it, which the gateway does not set).
 */
const VIPS_MAX_COORD = 100_000_000;

// ---------------------------------------------------------------------------------------------
// PNG: RFC 2083 / PNG Specification, 3rd edition (W3C 2025); § numbers are the 3rd edition's, and
// chunks are cited by name. The file is a signature and a list of chunks (length, type, data, CRC,
// §5.3); everything this reader needs precedes the first IDAT, which is also as far as libspng
// reads for a header.

const IHDR = fourcc('IHDR');
const PLTE = fourcc('PLTE');
const IDAT = fourcc('IDAT');
const TRNS = fourcc('tRNS');
const BKGD = fourcc('bKGD');
const HIST = fourcc('hIST');
const EXIF_PNG = fourcc('eXIf');
const ACTL = fourcc('acTL');
const FCTL = fourcc('fcTL');
const FDAT = fourcc('fdAT');
const TEXT = fourcc('tEXt');
const ZTXT = fourcc('zTXt');
const ITXT = fourcc('iTXt');
const ICCP_PNG = fourcc('iCCP');

/** §5.3: a chunk length is at most 2^31 − 1 (libspng: SPNG_ECHUNK_STDLEN). */
const PNG_MAX_CHUNK_BYTES = 0x7fff_ffff;

/**
 * libspng keeps ancillary chunks in a cache libvips limits to 60 MB, and inflates iCCP, zTXt and
 * compressed iTXt into it; going over fails the whole header. Rather than inflate anything, the
 * reader leaves to sharp any file whose chunks before IDAT could reach a quarter of that: each
 * compressed byte counts as DEFLATE's worst-case expansion (1032:1), each other byte as one.
 */
const PNG_CHUNK_BUDGET_BYTES = 16 * 1024 * 1024;
const DEFLATE_MAX_EXPANSION = 1032;
/** libspng also stops at 1000 stored chunks (SPNG_MAX_CHUNK_COUNT); a real file has a handful. */
const PNG_MAX_CHUNKS_BEFORE_IDAT = 256;

/**
 * Newer libvips reads EXIF (hence an orientation) from these text chunks, as ImageMagick writes
 * it; leave them to sharp so an upgrade cannot make the reader disagree.
 */
const RAW_PROFILE_KEYWORD = Buffer.from('Raw profile type ', 'latin1');

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function readPngHeader(bytes: Buffer): ImageHeader | null {
  // The signature (§5.2), then IHDR must come first with exactly 13 data bytes (§11.2.1).
  if (bytes.length < 8 + 12 + 13 || !startsWith(bytes, 0, 8, PNG_SIGNATURE)) return null;
  if (bytes.readUInt32BE(8) !== 13 || bytes.readUInt32BE(12) !== IHDR) return null;
  if (!pngCrcMatches(bytes, 8, 13)) return null; // a critical chunk's bad CRC is fatal to libspng
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  const bitDepth = bytes[24] ?? 0;
  const colourType = bytes[25] ?? 0;
  // libspng's check_ihdr: 1 ≤ size ≤ 2^31 − 1 (and libvips' own maximum), the bit depths §11.2.1
  // allows for each colour type, compression and filter method 0, interlace method 0 or 1.
  if (width < 1 || height < 1 || width > VIPS_MAX_COORD || height > VIPS_MAX_COORD) return null;
  if (!pngBitDepthAllowed(colourType, bitDepth)) return null;
  if (bytes[26] !== 0 || bytes[27] !== 0 || (bytes[28] ?? 2) > 1) return null;

  let paletteEntries = 0;
  let sawPalette = false;
  let sawTransparency = false;
  let sawPaletteDependent = false; // bKGD or hIST: PLTE after them is fatal to libspng
  let budgetBytes = 0;
  let chunks = 0;
  let offset = 8 + 12 + 13;
  for (;;) {
    if (offset + 8 > bytes.length) return null;
    const length = bytes.readUInt32BE(offset);
    const type = bytes.readUInt32BE(offset + 4);
    if (length > PNG_MAX_CHUNK_BYTES) return null;
    if (type === IDAT) break;
    chunks += 1;
    const compressed = type === ZTXT || type === ITXT || type === ICCP_PNG;
    budgetBytes += compressed ? length * DEFLATE_MAX_EXPANSION : length;
    if (chunks > PNG_MAX_CHUNKS_BEFORE_IDAT || budgetBytes > PNG_CHUNK_BUDGET_BYTES) return null;
    const data = offset + 8;
    const next = data + length + 4;
    if (next > bytes.length) return null;
    // With sharp's default failOn ('warning'), libspng checks CRCs: it discards an ancillary chunk
    // with a bad one (a discarded tRNS means no alpha) and fails on a critical one. The reader
    // leaves both to sharp.
    if (!pngCrcMatches(bytes, offset, length)) return null;

    if (type === PLTE) {
      // §11.2.2: one PLTE, 1–256 RGB entries, before tRNS/bKGD/hIST, not for greyscale, and no
      // more entries than the bit depth can index for colour type 3.
      if (sawPalette || sawTransparency || sawPaletteDependent) return null;
      if (colourType === 0 || colourType === 4) return null;
      if (length === 0 || length % 3 !== 0 || length / 3 > 256) return null;
      paletteEntries = length / 3;
      if (colourType === 3 && paletteEntries > 2 ** bitDepth) return null;
      sawPalette = true;
    } else if (type === TRNS) {
      // tRNS (Transparency): a single grey sample (2 bytes) for type 0, an RGB sample (6 bytes) for
      // type 2, up to one alpha per palette entry after PLTE for type 3, never for types 4 and 6.
      // libvips adds an alpha band for any tRNS libspng accepts; libspng drops a malformed one.
      if (sawTransparency) return null;
      if (colourType === 0 && length !== 2) return null;
      if (colourType === 2 && length !== 6) return null;
      if (colourType === 3 && (!sawPalette || length === 0 || length > paletteEntries)) return null;
      if (colourType === 4 || colourType === 6) return null;
      sawTransparency = true;
    } else if (type === BKGD || type === HIST) {
      sawPaletteDependent = true;
    } else if (type === EXIF_PNG) {
      // eXIf (Exif profile): libvips takes the orientation from it; let sharp read it.
      return null;
    } else if (type === ACTL || type === FCTL || type === FDAT) {
      // acTL/fcTL/fdAT (APNG animation): frames; let sharp decide what it makes of them.
      return null;
    } else if (type === TEXT || type === ZTXT || type === ITXT) {
      if (startsWith(bytes, data, data + length, RAW_PROFILE_KEYWORD)) return null;
    } else if (!pngChunkTypeIsAncillary(bytes, offset + 4)) {
      // A second IHDR, an IEND before any IDAT, an unknown critical chunk (§5.4: its first
      // letter is upper case) or bytes that are not a chunk type at all: libspng fails on these.
      return null;
    }
    offset = next;
  }
  if (colourType === 3 && !sawPalette) return null; // §11.2.2: PLTE is required for type 3

  return {
    width,
    height,
    orientation: 1,
    hasAlpha: colourType === 4 || colourType === 6 || sawTransparency,
    cmyk: false,
    pages: 1,
  };
}

/** §11.2.1 (IHDR), table 11.1: the bit depths allowed for each colour type. */
function pngBitDepthAllowed(colourType: number, bitDepth: number): boolean {
  switch (colourType) {
    case 0:
      return bitDepth === 1 || bitDepth === 2 || bitDepth === 4 || bitDepth === 8 || bitDepth === 16;
    case 3:
      return bitDepth === 1 || bitDepth === 2 || bitDepth === 4 || bitDepth === 8;
    case 2:
    case 4:
    case 6:
      return bitDepth === 8 || bitDepth === 16;
    default:
      return false;
  }
}

/** §5.3: the CRC covers the chunk type and data. `offset` is where the chunk's length field is. */
function pngCrcMatches(bytes: Buffer, offset: number, length: number): boolean {
  const end = offset + 8 + length;
  return crc32(bytes.subarray(offset + 4, end)) === bytes.readUInt32BE(end);
}

/** §5.4: type bytes are ASCII letters, and a lower-case first letter marks an ancillary chunk. */
function pngChunkTypeIsAncillary(bytes: Buffer, offset: number): boolean {
  for (let i = 0; i < 4; i += 1) {
    const c = bytes[offset + i] ?? 0;
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return false;
  }
  return ((bytes[offset] ?? 0) & 0x20) !== 0;
}

function startsWith(bytes: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return end - start >= prefix.length && bytes.subarray(start, start + prefix.length).equals(prefix);
}

// ---------------------------------------------------------------------------------------------
// JPEG: ITU T.81 Annex B. Marker segments from SOI up to the first SOS carry everything needed:
// the frame header (SOFn, §B.2.2) gives size and component count, APP1 "Exif" (Exif 2.3: an
// "Exif\0\0" header and a TIFF structure) the orientation. libjpeg reads exactly this much in
// jpeg_read_header.

const SOF0 = 0xc0; // baseline
const SOF1 = 0xc1; // extended sequential, Huffman
const SOF2 = 0xc2; // progressive, Huffman
const DHT = 0xc4;
const SOS = 0xda;
const DQT = 0xdb;
const DRI = 0xdd;
const APP0 = 0xe0;
const APP1 = 0xe1;
const APP15 = 0xef;
const COM = 0xfe;

/** libjpeg's JPEG_MAX_DIMENSION: larger frames fail in jpeg_read_header. */
const JPEG_MAX_DIMENSION = 65_500;
const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');
const EXIF_PREFIX = Buffer.from('Exif', 'latin1');

interface JpegFrame {
  readonly width: number;
  readonly height: number;
  readonly componentIds: readonly number[];
}

function readJpegHeader(bytes: Buffer): ImageHeader | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null; // SOI, §B.2.1
  let frame: JpegFrame | null = null;
  let orientation: number | null = null;
  let offset = 2;
  for (;;) {
    // §B.1.1.2: a marker is 0xFF and a code, optionally preceded by more 0xFF fill bytes. libjpeg
    // skips other bytes with a warning; the reader does not.
    if (bytes[offset] !== 0xff) return null;
    while (bytes[offset] === 0xff) offset += 1;
    const marker = bytes[offset];
    if (marker === undefined || offset + 3 > bytes.length) return null;
    const length = bytes.readUInt16BE(offset + 1); // counts itself, not the marker (§B.1.1.4)
    const data = offset + 3;
    const end = offset + 1 + length;
    if (length < 2 || end > bytes.length) return null;

    if (marker === SOF0 || marker === SOF1 || marker === SOF2) {
      if (frame !== null) return null; // libjpeg: JERR_SOF_DUPLICATE
      frame = readJpegFrame(bytes, data, end);
      if (frame === null) return null;
    } else if (marker === SOS) {
      if (frame === null || !jpegScanHeaderValid(bytes, data, end, frame)) return null; // JERR_SOS_NO_SOF
      break;
    } else if (marker === DQT) {
      if (!jpegQuantTablesValid(bytes, data, end)) return null;
    } else if (marker === DHT) {
      if (!jpegHuffmanTablesValid(bytes, data, end)) return null;
    } else if (marker === DRI) {
      if (length !== 4) return null; // §B.2.4.4
    } else if (marker === APP1 && startsWith(bytes, data, end, EXIF_PREFIX)) {
      // libvips keeps the first APP1 that starts "Exif"; a second one is odd enough to leave.
      if (orientation !== null) return null;
      orientation = exifOrientation(bytes, data, end);
      if (orientation === null) return null;
    } else if (!((marker >= APP0 && marker <= APP15) || marker === COM)) {
      // Any other frame type (lossless, hierarchical, arithmetic-coded: SOF3, SOF5–7, SOF9–15),
      // DAC, DNL, a second SOI, EOI before a scan, RSTn, TEM or a reserved code.
      return null;
    }
    offset = end;
  }
  if (frame === null) return null;

  const turned = orientation !== null && orientation >= 5; // 5–8 transpose the image
  return {
    width: turned ? frame.height : frame.width,
    height: turned ? frame.width : frame.height,
    orientation: orientation ?? 1,
    hasAlpha: false,
    // libjpeg decodes any 4-component frame to JCS_CMYK (Adobe APP14 transform 0, 2 = YCCK, or
    // none); libvips calls it CMYK. 1 and 3 components are greyscale and RGB.
    cmyk: frame.componentIds.length === 4,
    pages: 1,
  };
}

/**
 * §B.2.2 frame header: P, Y, X, Nf, then Nf × (C, H|V, Tq). libjpeg accepts 8-bit samples only
 * (JERR_BAD_PRECISION), non-zero sizes (JERR_EMPTY_IMAGE), sampling factors 1–4 and an exact
 * length. Components other than 1, 3 or 4 make libvips guess a colour space: left to sharp.
 */
function readJpegFrame(bytes: Buffer, data: number, end: number): JpegFrame | null {
  if (end - data < 6) return null;
  const precision = bytes[data];
  const height = bytes.readUInt16BE(data + 1);
  const width = bytes.readUInt16BE(data + 3);
  const components = bytes[data + 5] ?? 0;
  if (precision !== 8 || width < 1 || height < 1 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) return null;
  if (!(components === 1 || components === 3 || components === 4) || end - data !== 6 + 3 * components) return null;
  const componentIds: number[] = [];
  for (let i = 0; i < components; i += 1) {
    const at = data + 6 + 3 * i;
    const sampling = bytes[at + 1] ?? 0;
    const h = sampling >> 4;
    const v = sampling & 0x0f;
    if (h < 1 || h > 4 || v < 1 || v > 4 || (bytes[at + 2] ?? 4) > 3) return null;
    const id = bytes[at] ?? 0;
    if (componentIds.includes(id)) return null;
    componentIds.push(id);
  }
  return { width, height, componentIds };
}

/**
 * §B.2.3 scan header: Ns (1–4), Ns × (Cs, Td|Ta), Ss, Se, Ah|Al. Each Cs must name a different
 * frame component (libjpeg: JERR_BAD_COMPONENT_ID).
 */
function jpegScanHeaderValid(bytes: Buffer, data: number, end: number, frame: JpegFrame): boolean {
  const components = bytes[data] ?? 0;
  if (components < 1 || components > 4 || end - data !== 1 + 2 * components + 3) return false;
  const seen: number[] = [];
  for (let i = 0; i < components; i += 1) {
    const at = data + 1 + 2 * i;
    const id = bytes[at] ?? -1;
    const tables = bytes[at + 1] ?? 0xff;
    if (!frame.componentIds.includes(id) || seen.includes(id) || tables >> 4 > 3 || (tables & 0x0f) > 3) return false;
    seen.push(id);
  }
  return true;
}

/** §B.2.4.1: tables of Pq|Tq (Pq 0 = 8-bit, 1 = 16-bit entries; Tq 0–3) and 64 entries each. */
function jpegQuantTablesValid(bytes: Buffer, data: number, end: number): boolean {
  let at = data;
  while (at < end) {
    const pqTq = bytes[at] ?? 0xff;
    if (pqTq >> 4 > 1 || (pqTq & 0x0f) > 3) return false;
    at += 1 + 64 * ((pqTq >> 4) + 1);
  }
  return at === end;
}

/** §B.2.4.2: tables of Tc|Th (class 0–1, id 0–3), 16 code counts, then that many values (≤ 256). */
function jpegHuffmanTablesValid(bytes: Buffer, data: number, end: number): boolean {
  let at = data;
  while (at < end) {
    if (at + 17 > end) return false;
    const tcTh = bytes[at] ?? 0xff;
    if (tcTh >> 4 > 1 || (tcTh & 0x0f) > 3) return false;
    let values = 0;
    for (let i = 1; i <= 16; i += 1) values += bytes[at + i] ?? 0;
    if (values > 256) return false;
    at += 17 + values;
  }
  return at === end;
}

/**
 * The orientation (1–8) in an APP1 Exif segment, 1 when it has none, or `null` when the segment
 * is not laid out plainly enough to be sure libexif reads the same. The segment is "Exif\0\0" and
 * a TIFF structure (TIFF 6.0 section 2: byte order "II" or "MM", 42, the offset of IFD0); IFD0
 * holds a count and 12-byte entries (tag, type, count, value), a value of 4 bytes or less sitting
 * left-justified in the entry's last four. Orientation is tag 0x0112 (274, TIFF 6.0 section 8),
 * one SHORT (type 3).
 */
function exifOrientation(bytes: Buffer, data: number, end: number): number | null {
  if (!startsWith(bytes, data, end, EXIF_HEADER)) return null;
  const tiff = data + EXIF_HEADER.length;
  if (end - tiff < 8) return null;
  const order = bytes.toString('latin1', tiff, tiff + 2);
  if (order !== 'II' && order !== 'MM') return null;
  const little = order === 'II';
  const u16 = (at: number): number => (little ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const u32 = (at: number): number => (little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  if (u16(tiff + 2) !== 42) return null;
  const ifd0 = u32(tiff + 4);
  if (ifd0 < 8 || ifd0 > end - tiff - 2) return null;
  const entries = u16(tiff + ifd0);
  // libexif loads only the entries that fit, silently; a short IFD is left to it.
  if (tiff + ifd0 + 2 + 12 * entries > end) return null;
  let orientation: number | null = null;
  for (let i = 0; i < entries; i += 1) {
    const entry = tiff + ifd0 + 2 + 12 * i;
    if (u16(entry) !== 0x0112) continue;
    // libexif keeps the first of two; libvips reads other integer types too. Neither is plain.
    if (orientation !== null || u16(entry + 2) !== 3 || u32(entry + 4) !== 1) return null;
    orientation = u16(entry + 8);
    if (orientation < 1 || orientation > 8) return null; // libvips would say 1; leave it to sharp
  }
  return orientation ?? 1;
}

// ---------------------------------------------------------------------------------------------
// WebP: RFC 9649, cited by section title. A RIFF container ("WebP File Header") of chunks padded
// to even sizes ("RIFF File Format"): one `VP8 ` chunk ("Simple File Format (Lossy)") or `VP8L`
// chunk ("Simple File Format (Lossless)"), or a `VP8X` header followed by optional ICCP, ANIM,
// ANMF, ALPH, EXIF, XMP and unknown chunks ("Extended File Format").

const RIFF = fourcc('RIFF');
const WEBP = fourcc('WEBP');
const VP8 = fourcc('VP8 ');
const VP8L = fourcc('VP8L');
const VP8X = fourcc('VP8X');
const ALPH = fourcc('ALPH');
const ANIM = fourcc('ANIM');
const ANMF = fourcc('ANMF');
const EXIF_WEBP = fourcc('EXIF');

/** "Extended File Format": the VP8X flags byte is Rsv(2) I L E X A R; reserved bits must be 0. */
const VP8X_ALPHA = 0x10;
const VP8X_ANIMATION = 0x02;
const VP8X_EXIF = 0x08;
const VP8X_VALID_FLAGS = 0x3e;

/** libvips' webp loader refuses frames wider or taller than 0x3FFF, one short of VP8L's maximum. */
const WEBP_MAX_DIMENSION = 0x3fff;

interface WebpFrame {
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
}

function readWebpHeader(bytes: Buffer): ImageHeader | null {
  if (bytes.length < 12 + 8 || bytes.readUInt32BE(0) !== RIFF || bytes.readUInt32BE(8) !== WEBP) return null;
  // "WebP File Header": the RIFF size counts from "WEBP" on; libwebp's demuxer reads nothing past
  // it, and needs all of it (the gateway never demuxes a partial file).
  const riffEnd = 8 + bytes.readUInt32LE(4);
  if (riffEnd > bytes.length) return null;
  const first = bytes.readUInt32BE(12);

  if (first === VP8 || first === VP8L) {
    // Simple format: exactly the one image chunk, so nothing after it can trip the demuxer.
    const size = bytes.readUInt32LE(16);
    if (20 + size + (size % 2) !== riffEnd) return null;
    const frame = first === VP8 ? readVp8Frame(bytes, 20, size) : readVp8lFrame(bytes, 20, size);
    if (frame === null) return null;
    return { width: frame.width, height: frame.height, orientation: 1, hasAlpha: frame.hasAlpha, cmyk: false, pages: 1 };
  }
  if (first !== VP8X) return null;

  // VP8X: flags, 3 reserved bytes, canvas width − 1 and height − 1 as 24-bit little-endian.
  const vp8xSize = bytes.readUInt32LE(16);
  if (vp8xSize < 10) return null;
  let offset = 20 + vp8xSize + (vp8xSize % 2);
  if (offset > riffEnd) return null;
  const flags = bytes[20] ?? 0;
  if ((flags & ~VP8X_VALID_FLAGS) !== 0) return null;
  // An animation has several frames; an EXIF chunk may hold an orientation. Both to sharp.
  if ((flags & (VP8X_ANIMATION | VP8X_EXIF)) !== 0) return null;
  const canvasWidth = bytes.readUIntLE(24, 3) + 1;
  const canvasHeight = bytes.readUIntLE(27, 3) + 1;
  if (canvasWidth > WEBP_MAX_DIMENSION || canvasHeight > WEBP_MAX_DIMENSION) return null;

  let frame: WebpFrame | null = null;
  let sawAlphaChunk = false;
  while (offset < riffEnd) {
    if (offset + 8 > riffEnd) return null;
    const type = bytes.readUInt32BE(offset);
    const size = bytes.readUInt32LE(offset + 4);
    const next = offset + 8 + size + (size % 2);
    if (next > riffEnd) return null;
    if (type === VP8 || type === VP8L) {
      // One image ("Bitstream (VP8/VP8L)"); ALPH ("Alpha") goes with VP8 only, VP8L has its own.
      if (frame !== null || (type === VP8L && sawAlphaChunk)) return null;
      frame = type === VP8 ? readVp8Frame(bytes, offset + 8, size) : readVp8lFrame(bytes, offset + 8, size);
      if (frame === null) return null;
    } else if (type === ALPH) {
      if (sawAlphaChunk || frame !== null) return null; // one ALPH, before the image
      sawAlphaChunk = true;
    } else if (type === VP8X || type === ANIM || type === ANMF || type === EXIF_WEBP) {
      return null;
    }
    offset = next;
  }
  // libwebp's demuxer: a still image fills the canvas exactly.
  if (frame === null || frame.width !== canvasWidth || frame.height !== canvasHeight) return null;
  // libvips takes alpha from the VP8X flag alone (the demuxer drops ALPH when it is not set).
  return { width: canvasWidth, height: canvasHeight, orientation: 1, hasAlpha: (flags & VP8X_ALPHA) !== 0, cmyk: false, pages: 1 };
}

/**
 * RFC 6386 §9.1 key frame header, as libwebp's VP8GetInfo checks it: a 3-byte frame tag (key
 * frame bit 0, version ≤ 3, show_frame set, first partition shorter than the chunk), the start
 * code 9D 01 2A, then 14-bit width and height (the top two bits are an upscaling hint, ignored).
 */
function readVp8Frame(bytes: Buffer, data: number, size: number): WebpFrame | null {
  if (size < 10) return null;
  const tag = bytes.readUIntLE(data, 3);
  if ((tag & 1) !== 0 || ((tag >> 1) & 7) > 3 || ((tag >> 4) & 1) === 0 || tag >> 5 >= size) return null;
  if (bytes[data + 3] !== 0x9d || bytes[data + 4] !== 0x01 || bytes[data + 5] !== 0x2a) return null;
  const width = bytes.readUInt16LE(data + 6) & 0x3fff;
  const height = bytes.readUInt16LE(data + 8) & 0x3fff;
  return webpFrame(width, height, false);
}

/**
 * RFC 9649 §3 (lossless bitstream), "RIFF Header": signature 0x2F, then 14 bits width − 1, 14 bits
 * height − 1, 1 bit alpha_is_used and a 3-bit version that must be 0, least significant bit first.
 */
function readVp8lFrame(bytes: Buffer, data: number, size: number): WebpFrame | null {
  if (size < 5 || bytes[data] !== 0x2f) return null;
  const bits = bytes.readUInt32LE(data + 1);
  if (bits >>> 29 !== 0) return null;
  return webpFrame((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1, ((bits >>> 28) & 1) === 1);
}

function webpFrame(width: number, height: number, hasAlpha: boolean): WebpFrame | null {
  if (width < 1 || height < 1 || width > WEBP_MAX_DIMENSION || height > WEBP_MAX_DIMENSION) return null;
  return { width, height, hasAlpha };
}
