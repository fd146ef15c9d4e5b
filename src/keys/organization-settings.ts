/** What an operator sets on an organisation (customer account); money in micro-dollars. */
export interface OrganizationSettings {
  readonly name: string;
  readonly priceGroup: string;
  readonly budgetMicroUsd: number | null;
  readonly metadata: Readonly<Record<string, string>> | null;
}

/** A price group as set: a multiplier, and per-model prices (PriceRule objects) by model id. */
export interface PriceGroupSettings {
  readonly multiplier: number;
  /** Model id → a PriceRule replacing the catalog's list price for that model in this group. */
  readonly modelPrices: Readonly<Record<string, unknown>>;
}
