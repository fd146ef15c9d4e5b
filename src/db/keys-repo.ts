import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { generateKeySecret } from '../auth/api-key-secret.ts';
import { DEFAULT_KEY_SETTINGS, type KeySettings } from '../keys/key-settings.ts';
import type { ApiKeyRow, Database } from './schema.ts';

export interface CreatedKey {
  readonly row: ApiKeyRow;
  /** Shown once to whoever created the key; never stored. */
  readonly plaintext: string;
}

/** API keys: create, find by hash, list, update, revoke. */
export class KeysRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(settings: Partial<KeySettings> = {}, nowMs: number = Date.now()): Promise<CreatedKey> {
    const secret = generateKeySecret();
    const row: ApiKeyRow = {
      id: `key_${randomUUID().replaceAll('-', '')}`,
      key_hash: secret.hash,
      display_prefix: secret.displayPrefix,
      created_at_ms: nowMs,
      revoked_at_ms: null,
      committed_micro_usd: 0,
      updated_at_ms: nowMs,
      ...toColumns({ ...DEFAULT_KEY_SETTINGS, ...settings }),
    };
    await this.#db.insertInto('api_keys').values(row).execute();
    return { row, plaintext: secret.plaintext };
  }

  async findByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  }

  async get(id: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(role: 'user' | 'admin' | null = null): Promise<ApiKeyRow[]> {
    let query = this.#db.selectFrom('api_keys').selectAll().orderBy('created_at_ms').orderBy('id');
    if (role !== null) query = query.where('role', '=', role);
    return query.execute();
  }

  async count(role: 'user' | 'admin'): Promise<number> {
    const result = await this.#db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', role)
      .executeTakeFirstOrThrow();
    return Number(result.n);
  }

  /** Changes the given settings; returns the updated row, or undefined when there is no such key. */
  async update(id: string, changes: Partial<KeySettings>, nowMs: number = Date.now()): Promise<ApiKeyRow | undefined> {
    const current = await this.get(id);
    if (current === undefined) return undefined;
    const merged = { ...fromRow(current), ...changes };
    await this.#db
      .updateTable('api_keys')
      .set({ ...toColumns(merged), updated_at_ms: nowMs })
      .where('id', '=', id)
      .execute();
    return this.get(id);
  }

  /** Revokes by id or display prefix; returns the revoked row, or undefined when none matched. */
  async revoke(idOrPrefix: string, nowMs: number = Date.now()): Promise<ApiKeyRow | undefined> {
    const key = await this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrPrefix), eb('display_prefix', '=', idOrPrefix), eb('display_prefix', '=', `${idOrPrefix}…`)]))
      .executeTakeFirst();
    if (key === undefined) return undefined;
    await this.#db
      .updateTable('api_keys')
      .set({ revoked_at_ms: nowMs, updated_at_ms: nowMs })
      .where('id', '=', key.id)
      .where('revoked_at_ms', 'is', null)
      .execute();
    return { ...key, revoked_at_ms: key.revoked_at_ms ?? nowMs };
  }
}

/** The settings stored on a key row, decoded. */
export function fromRow(row: ApiKeyRow): KeySettings {
  return {
    name: row.name,
    role: row.role === 'admin' ? 'admin' : 'user',
    allowedModels: row.allowed_models === null ? null : (JSON.parse(row.allowed_models) as string[]),
    budgetMicroUsd: row.budget_micro_usd,
    requestsPerMinute: row.requests_per_minute,
    imagesPerMinute: row.images_per_minute,
    maxConcurrent: row.max_concurrent,
    expiresAtMs: row.expires_at_ms,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, string>),
    organizationId: row.organization_id,
  };
}

function toColumns(settings: KeySettings) {
  return {
    name: settings.name,
    role: settings.role,
    allowed_models: settings.allowedModels === null ? null : JSON.stringify(settings.allowedModels),
    budget_micro_usd: settings.budgetMicroUsd,
    requests_per_minute: settings.requestsPerMinute,
    images_per_minute: settings.imagesPerMinute,
    max_concurrent: settings.maxConcurrent,
    expires_at_ms: settings.expiresAtMs,
    metadata: settings.metadata === null ? null : JSON.stringify(settings.metadata),
    organization_id: settings.organizationId,
  };
}
