import sharp from 'sharp';

/** A real PNG of the given size (a gradient, so it compresses like a picture, not to nothing). */
export async function fakePng(width: number, height: number, seed = 0): Promise<Buffer> {
  const channels = 3;
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const i = (y * width + x) * channels;
      data[i] = (x * 255) / width + seed;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = ((x ^ y) + seed * 7) & 0xff;
    }
  }
  return sharp(data, { raw: { width, height, channels } }).png({ compressionLevel: 1 }).toBuffer();
}

export async function fakeImage(width: number, height: number, format: 'png' | 'jpeg' | 'webp', seed = 0): Promise<Buffer> {
  const png = await fakePng(width, height, seed);
  return format === 'png' ? png : sharp(png).toFormat(format).toBuffer();
}
