/** What an operator sets on a key; every limit is optional (null = no limit). */
export interface KeySettings {
  readonly name: string;
  readonly role: 'user' | 'admin';
  readonly allowedModels: readonly string[] | null;
  readonly budgetMicroUsd: number | null;
  readonly requestsPerMinute: number | null;
  readonly imagesPerMinute: number | null;
  readonly maxConcurrent: number | null;
  readonly expiresAtMs: number | null;
  readonly metadata: Readonly<Record<string, string>> | null;
  /** The organisation whose budget, balance and prices the key shares, or null. */
  readonly organizationId: string | null;
}

export const DEFAULT_KEY_SETTINGS: KeySettings = {
  name: 'unnamed',
  role: 'user',
  allowedModels: null,
  budgetMicroUsd: null,
  requestsPerMinute: null,
  imagesPerMinute: null,
  maxConcurrent: null,
  expiresAtMs: null,
  metadata: null,
  organizationId: null,
};
