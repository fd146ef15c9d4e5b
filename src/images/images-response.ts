import type { ImageUsage } from '../catalog/index.ts';

/** OpenAI's `ImagesResponse` (contract notes §5); fields past `data` only for GPT image models. */
export interface ImagesResponse {
  /** Async jobs only: the job's id and final status, beside the usual fields. */
  id?: string;
  status?: 'succeeded';
  created: number;
  data: ImageData[];
  background?: 'transparent' | 'opaque';
  output_format?: string;
  quality?: string;
  size?: string;
  usage?: ImageUsage;
}

/**
 * One image of an answer. `b64_json` is the base64 text as its ASCII bytes, often a view into the
 * upstream's own answer (media/base64.ts): `imagesResponseBody` writes it out without a copy.
 */
export type ImageData = { url: string; revised_prompt?: string } | { b64_json: Buffer; revised_prompt?: string };
