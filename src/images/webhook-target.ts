import { GatewayError } from '../errors.ts';
import { type TargetPolicy, type TargetRefusal, targetRefusal } from '../http/public-target.ts';

export type WebhookTargetPolicy = TargetPolicy;

/**
 * Refuses, when a job is submitted, a `webhook_url` that could never be delivered (400 naming
 * `webhook_url`), instead of accepting the job and failing every attempt later. A URL refused
 * for its address reads the same whatever the reason (private, loopback, link-local, or not
 * resolving), so the answer does not reveal the gateway's internal DNS.
 */
export async function assertWebhookTarget(url: URL, policy: WebhookTargetPolicy): Promise<void> {
  const refusal = await targetRefusal(url, policy);
  if (refusal === null) return;
  throw new GatewayError('invalid_value', `Invalid value for 'webhook_url': ${REASONS[refusal](url)}.`, { param: 'webhook_url' });
}

const REASONS: Readonly<Record<TargetRefusal, (url: URL) => string>> = {
  scheme: () => 'an http or https URL',
  credentials: () => 'a URL without a user name or password',
  not_public: (url) => `webhooks are sent to public addresses only, and ${url.hostname} does not resolve to one`,
};
