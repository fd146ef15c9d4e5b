import type { Kysely } from 'kysely';
import type { Database, ImageRow, NewImageRow } from './schema.ts';

/** The record of every image delivered: who asked, what it is, where its bytes are, until when. */
export class ImagesRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insertMany(rows: readonly NewImageRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#db.insertInto('images').values([...rows]).execute();
  }

  /** Expired records whose blob key sorts before `blobKeyBefore` (a `YYYYMMDD` day). */
  async listExpired(nowMs: number, blobKeyBefore: string, limit: number): Promise<ImageRow[]> {
    return this.#db
      .selectFrom('images')
      .selectAll()
      .where('expires_at_ms', '<=', nowMs)
      .where('blob_key', '<', blobKeyBefore)
      .orderBy('expires_at_ms')
      .limit(limit)
      .execute();
  }

  async deleteByIds(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.deleteFrom('images').where('id', 'in', [...ids]).execute();
  }

  /** Whether any live record still points at a blob (identical images share one blob). */
  async blobInUse(blobKey: string): Promise<boolean> {
    const row = await this.#db.selectFrom('images').select('id').where('blob_key', '=', blobKey).limit(1).executeTakeFirst();
    return row !== undefined;
  }
}
