import { z } from 'zod';
import type { Catalog } from '../catalog/index.ts';
import type { KeySettings } from '../keys/key-settings.ts';
import { GatewayError } from '../errors.ts';
import { zodIssueToError } from './parse-body.ts';

/**
 * The settings of a key as the admin API and the CLI take them (snake_case, money in USD, times in
 * unix seconds, like OpenAI's own APIs). `null` clears a limit; an absent field leaves it as it is.
 */
export const KeySettingsSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  allowed_models: z.array(z.string()).min(1).nullable().optional(),
  budget_usd: z.number().min(0).max(1_000_000_000).nullable().optional(),
  requests_per_minute: z.number().int().min(1).nullable().optional(),
  images_per_minute: z.number().int().min(1).nullable().optional(),
  max_concurrent: z.number().int().min(1).nullable().optional(),
  expires_at: z.number().int().min(0).nullable().optional(),
  metadata: z.record(z.string(), z.string().max(500)).nullable().optional(),
  organization_id: z.string().min(1).max(200).nullable().optional(),
});

export type KeySettingsInput = z.input<typeof KeySettingsSchema>;

/** Validates key settings; unknown models are refused with the list of known ones. */
export function validateKeySettings(body: unknown, catalog: Catalog): Partial<KeySettings> {
  const parsed = KeySettingsSchema.safeParse(body ?? {});
  if (!parsed.success) throw zodIssueToError(parsed.error, body);
  const input = parsed.data;
  const unknown = (input.allowed_models ?? []).find((id) => catalog.get(id) === undefined);
  if (unknown !== undefined) {
    throw new GatewayError(
      'invalid_value',
      `Invalid value '${unknown}' in 'allowed_models': not a catalog model (${catalog
        .all()
        .map((m) => m.id)
        .join(', ')}).`,
      {
        param: 'allowed_models',
      },
    );
  }
  const out: { -readonly [K in keyof KeySettings]?: KeySettings[K] } = {};
  if (input.name !== undefined) out.name = input.name;
  if (input.allowed_models !== undefined) out.allowedModels = input.allowed_models;
  if (input.budget_usd !== undefined) out.budgetMicroUsd = input.budget_usd === null ? null : Math.round(input.budget_usd * 1_000_000);
  if (input.requests_per_minute !== undefined) out.requestsPerMinute = input.requests_per_minute;
  if (input.images_per_minute !== undefined) out.imagesPerMinute = input.images_per_minute;
  if (input.max_concurrent !== undefined) out.maxConcurrent = input.max_concurrent;
  if (input.expires_at !== undefined) out.expiresAtMs = input.expires_at === null ? null : input.expires_at * 1000;
  if (input.metadata !== undefined) out.metadata = input.metadata;
  if (input.organization_id !== undefined) out.organizationId = input.organization_id;
  return out;
}
