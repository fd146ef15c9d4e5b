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
    await this.#db
      .insertInto('images')
      .values([...rows])
      .execute();
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
    await this.#db
      .deleteFrom('images')
      .where('id', 'in', [...ids])
      .execute();
  }

  /** One of a key's live images (never another key's). */
  async getOwned(apiKeyId: string, id: string, nowMs: number): Promise<ImageRow | undefined> {
    return this.#db
      .selectFrom('images')
      .selectAll()
      .where('id', '=', id)
      .where('api_key_id', '=', apiKeyId)
      .where('expires_at_ms', '>', nowMs)
      .executeTakeFirst();
  }

  /** A key's live images, newest first, `limit` at a time after the image `afterId` (cursor). */
  async listOwned(apiKeyId: string, nowMs: number, limit: number, afterId: string | undefined): Promise<ImageRow[]> {
    let query = this.#db
      .selectFrom('images')
      .selectAll()
      .where('api_key_id', '=', apiKeyId)
      .where('expires_at_ms', '>', nowMs)
      .orderBy('seq', 'desc')
      .limit(limit);
    if (afterId !== undefined) {
      const cursor = await this.#db.selectFrom('images').select('seq').where('id', '=', afterId).where('api_key_id', '=', apiKeyId).executeTakeFirst();
      if (cursor === undefined) return [];
      query = query.where('seq', '<', cursor.seq);
    }
    return query.execute();
  }

  /** The images a request produced, in order. */
  async listByRequest(requestId: string): Promise<ImageRow[]> {
    return this.#db.selectFrom('images').selectAll().where('request_id', '=', requestId).orderBy('seq').execute();
  }

  /** Whether any live record still points at a blob (identical images share one blob). */
  async blobInUse(blobKey: string): Promise<boolean> {
    const row = await this.#db.selectFrom('images').select('id').where('blob_key', '=', blobKey).limit(1).executeTakeFirst();
    return row !== undefined;
  }
}
