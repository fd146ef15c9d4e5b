/*
 * Recycled pixel buffers. Each low-quality 1024x1024 image needs about 1 MB of canvases; fresh
 * ArrayBuffers of that size count as external memory, and V8 answers external memory with full
 * garbage collections: measured, about 5% of a render's time. Buffers go back here once nothing
 * reads them any more (for a canvas: once sharp has encoded it) and are handed out again zeroed,
 * so a picture never sees another picture's pixels.
 */

/** Buffers kept per size: enough for the images one process renders at once. */
const KEPT_PER_SIZE = 4;
/** Buffers above this are not kept: rare (4K at high quality) and their paint dwarfs allocation. */
const MAX_KEPT_BYTES = 8 * 1024 * 1024;

const free = new Map<number, ArrayBuffer[]>();

/** A zeroed buffer of `byteLength` bytes, recycled when one is free. */
export function takeBuffer(byteLength: number): ArrayBuffer {
  const recycled = free.get(byteLength)?.pop();
  if (recycled === undefined) return new ArrayBuffer(byteLength);
  new Uint8Array(recycled).fill(0);
  return recycled;
}

/** Gives a buffer back. The caller must hold no view of it that is still used. */
export function releaseBuffer(buffer: ArrayBufferLike): void {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength > MAX_KEPT_BYTES) return;
  const list = free.get(buffer.byteLength) ?? [];
  if (list.length >= KEPT_PER_SIZE) return;
  list.push(buffer);
  free.set(buffer.byteLength, list);
}
