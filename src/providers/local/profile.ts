import type { Random } from './prng.ts';

/*
 * One-dimensional fractal noise for skylines of hills, ridges and dunes: octaves of smoothly
 * interpolated random values. "Ridged" folds each octave around its middle, which turns round
 * hills into sharp peaks.
 */

export interface ProfileOptions {
  /** Bumps across the whole width in the first octave. */
  readonly cycles: number;
  readonly octaves: number;
  /** Amplitude kept from one octave to the next (0–1). */
  readonly roughness: number;
  readonly ridged: boolean;
}

/** Heights in 0–1, one per column. */
export function heightProfile(width: number, random: Random, options: ProfileOptions): Float32Array {
  const heights = new Float32Array(width);
  let amplitude = 1;
  let total = 0;
  let cycles = options.cycles;
  for (let octave = 0; octave < options.octaves; octave += 1) {
    const lattice = new Float32Array(Math.ceil(cycles) + 2);
    for (let k = 0; k < lattice.length; k += 1) lattice[k] = random();
    const phase = random();
    for (let x = 0; x < width; x += 1) {
      const at = (x / width) * cycles + phase;
      const k = Math.floor(at);
      const f = at - k;
      const s = f * f * (3 - 2 * f);
      let v = (lattice[k] ?? 0) + ((lattice[k + 1] ?? 0) - (lattice[k] ?? 0)) * s;
      if (options.ridged) v = 1 - Math.abs(2 * v - 1);
      heights[x] = (heights[x] ?? 0) + v * amplitude;
    }
    total += amplitude;
    amplitude *= options.roughness;
    cycles *= 2.1;
  }
  for (let x = 0; x < width; x += 1) heights[x] = (heights[x] ?? 0) / total;
  return heights;
}
