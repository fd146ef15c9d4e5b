/*
 * Seeded randomness for the renderer. Everything random in a picture comes from one of these,
 * so the same request gives the same bytes again (with the same Node and sharp builds);
 * Math.random could not be replayed.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** 32-bit FNV-1a over the UTF-16 code units of `text`, continuing from `basis`. */
export function hashString(text: string, basis = 0x811c9dc5): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** murmur3's 32-bit finaliser: spreads nearby inputs (seed 1, 2, 3 …) across the whole range. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: tiny, fast, and good enough for placing clouds and boats. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of one image: the prompt, the request's `seed` (absent and 0 differ), and the image's
 * index, so `n` images of one request are distinct and each is reproducible.
 */
export function imageSeed(prompt: string, requestSeed: number | null, index: number): number {
  const seedText = requestSeed === null ? 'none' : String(requestSeed);
  return mix32(hashString(`${seedText}\u0000${index}`, hashString(prompt)));
}

/** A stateless hash of two integers to [0, 1): per-pixel grain without allocating a generator. */
export function hash2(x: number, y: number, seed: number): number {
  let h = Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return ((h ^ (h >>> 15)) >>> 0) / 4294967296;
}
