import { Catalog } from './catalog.ts';
import { ModelSpecSchema, OperatorModelSchema, PriceRuleSchema } from './model-schema.ts';
import type { ModelSpec } from './types.ts';

/** A model entry that cannot be used; the message names the entry and the field. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}

/** What the operator's configuration says about models (`models:`, `aliases:`, `prices:`). */
export interface CatalogOverrides {
  /** Raw entries of `models:` (or `IMAGEGATE_MODELS`), checked here. */
  readonly models: readonly unknown[];
  /** Alias name → model id. */
  readonly aliases: Readonly<Record<string, string>>;
  /** Model id → price rule (raw, checked here). */
  readonly prices: Readonly<Record<string, unknown>>;
}

/**
 * The catalog the gateway serves: the built-in models, then the operator's entries in order —
 * each either changes a model (`{id: 'dall-e-3', maxN: 2}`), adds one that starts from a model it
 * is `like` (`{id: 'my-flux', like: 'dall-e-3', ...}`), or names an alias (`{id, aliasOf}`) — then
 * `aliases:` and `prices:`. Every resulting model is checked as a whole against the ModelSpec
 * schema, so a bad entry stops the start with a message naming it and its field.
 */
export function buildCatalog(builtIns: readonly ModelSpec[], overrides: CatalogOverrides): Catalog {
  const models = new Map<string, ModelSpec>(builtIns.map((model) => [model.id, model]));
  const aliases = new Map<string, string>();

  overrides.models.forEach((entry, index) => {
    const head = OperatorModelSchema.safeParse(entry);
    if (!head.success) throw new CatalogError(`models.${index}: ${describeIssues(head.error.issues)}`);
    const { id, like, aliasOf, ...fields } = head.data;
    const where = `models.${index} (${id})`;
    if (aliasOf !== undefined) {
      if (like !== undefined || Object.keys(fields).length > 0) throw new CatalogError(`${where}: an alias (aliasOf) takes no other fields`);
      aliases.set(id, aliasOf);
      return;
    }
    const base = like === undefined ? models.get(id) : models.get(like);
    if (like !== undefined && base === undefined) throw new CatalogError(`${where}.like: '${like}' is not a model (known: ${[...models.keys()].join(', ')})`);
    if (base === undefined) {
      throw new CatalogError(`${where}: '${id}' is not a built-in model; add 'like: <model id>' to start from one (known: ${[...models.keys()].join(', ')})`);
    }
    models.set(id, checked(where, { ...base, ...fields, id }));
  });

  for (const [alias, target] of Object.entries(overrides.aliases)) aliases.set(alias, target);
  for (const [alias, target] of aliases) {
    if (models.has(alias)) throw new CatalogError(`aliases.${alias}: '${alias}' is a model already; an alias needs a name of its own`);
    if (!models.has(target)) throw new CatalogError(`aliases.${alias}: '${target}' is not a model`);
  }

  for (const [id, raw] of Object.entries(overrides.prices)) {
    const model = models.get(id);
    if (model === undefined) throw new CatalogError(`prices.${id}: not a catalog model`);
    const price = PriceRuleSchema.safeParse(raw);
    if (!price.success) throw new CatalogError(`prices.${id}: ${describeIssues(price.error.issues)}`);
    models.set(id, checked(`prices.${id}`, { ...model, price: price.data, priceSource: 'operator configuration (prices:)' }));
  }
  return new Catalog([...models.values()], aliases);
}

function checked(where: string, candidate: Record<string, unknown>): ModelSpec {
  const parsed = ModelSpecSchema.safeParse(candidate);
  if (!parsed.success) throw new CatalogError(`${where}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((issue) => `${issue.path.map(String).join('.') || '(entry)'}: ${issue.message}`).join('; ');
}
