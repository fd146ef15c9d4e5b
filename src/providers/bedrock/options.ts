import { z } from 'zod';

/**
 * The channel options a Bedrock channel reads:
 * - `region`: the AWS Region the channel calls and signs for (e.g. `eu-central-1`). Absent: the
 *   region named in `baseUrl` when it is a regional Bedrock endpoint, else `us-east-1` (the region
 *   of the provider's default base URL). The gateway does not read `AWS_REGION`, so where a
 *   channel goes (and what it costs) is stated in its own configuration.
 * - `accessKeyId`: an IAM access key id; the channel's `apiKey` is then its secret access key.
 *   Absent: the AWS SDK's default credential chain (environment, shared config and SSO, web
 *   identity, ECS task role, EC2 instance role).
 * - `sessionToken`: the session token of temporary credentials (`ASIA…` key ids).
 * - `cfgScale`: Nova Canvas and Titan `imageGenerationConfig.cfgScale` (1.1–10; how strictly the
 *   image follows the prompt); absent, the model's default (6.5 Nova, 8 Titan).
 */
export const BedrockOptionsSchema = z
  .strictObject({
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS Region such as us-east-1')
      .optional(),
    accessKeyId: z
      .string()
      .regex(/^[A-Z0-9]{16,128}$/, 'an AWS access key id such as AKIA…')
      .optional(),
    sessionToken: z.string().min(1).optional(),
    cfgScale: z.coerce.number().min(1.1).max(10).optional(),
  })
  .refine((options) => options.sessionToken === undefined || options.accessKeyId !== undefined, {
    message: 'sessionToken needs accessKeyId (and the secret access key as the channel apiKey)',
    path: ['sessionToken'],
  });

export type BedrockOptions = z.infer<typeof BedrockOptionsSchema>;
