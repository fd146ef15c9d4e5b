import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { generateKeySecret } from '../auth/api-key-secret.ts';
import type { ApiKeyRow, Database } from './schema.ts';

export interface CreatedKey {
  readonly row: ApiKeyRow;
  /** Shown once to whoever created the key; never stored. */
  readonly plaintext: string;
}

/** API keys: create, find by hash, list, revoke. */
export class KeysRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(name: string, nowMs: number = Date.now()): Promise<CreatedKey> {
    const secret = generateKeySecret();
    const row: ApiKeyRow = {
      id: `key_${randomUUID().replaceAll('-', '')}`,
      key_hash: secret.hash,
      display_prefix: secret.displayPrefix,
      name,
      created_at_ms: nowMs,
      revoked_at_ms: null,
    };
    await this.#db.insertInto('api_keys').values(row).execute();
    return { row, plaintext: secret.plaintext };
  }

  async findByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  }

  async list(): Promise<ApiKeyRow[]> {
    return this.#db.selectFrom('api_keys').selectAll().orderBy('created_at_ms').execute();
  }

  async count(): Promise<number> {
    const result = await this.#db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(result.n);
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
      .set({ revoked_at_ms: nowMs })
      .where('id', '=', key.id)
      .where('revoked_at_ms', 'is', null)
      .execute();
    return { ...key, revoked_at_ms: key.revoked_at_ms ?? nowMs };
  }
}
