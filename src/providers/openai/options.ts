import { z } from 'zod';

/** Channel options of OpenAI-shaped upstreams (`provider: openai`). */
export const OpenAIOptionsSchema = z.strictObject({
  /** Sent as `OpenAI-Organization`, for keys that belong to several organizations. */
  organization: z.string().min(1).optional(),
  /** Longest silence tolerated inside an upstream stream before the attempt is cut. */
  streamIdleTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(60_000),
});

export type OpenAIOptions = z.infer<typeof OpenAIOptionsSchema>;
