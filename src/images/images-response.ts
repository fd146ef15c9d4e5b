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

export type ImageData = { url: string; revised_prompt?: string } | { b64_json: string; revised_prompt?: string };
