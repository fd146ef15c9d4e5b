import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Migrations live in code, in order, and are never edited once released: a change is a new entry.
 * They use only SQL that SQLite and PostgreSQL both take.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001_keys_and_images': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('key_hash', 'text', (col) => col.notNull().unique())
        .addColumn('display_prefix', 'text', (col) => col.notNull())
        .addColumn('name', 'text', (col) => col.notNull())
        .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
        .addColumn('revoked_at_ms', 'bigint')
        .execute();
      await db.schema
        .createTable('images')
        .addColumn('seq', 'integer', (col) => col.primaryKey().autoIncrement())
        .addColumn('id', 'text', (col) => col.notNull().unique())
        .addColumn('api_key_id', 'text', (col) => col.notNull().references('api_keys.id'))
        .addColumn('request_id', 'text', (col) => col.notNull())
        .addColumn('model', 'text', (col) => col.notNull())
        .addColumn('provider', 'text', (col) => col.notNull())
        .addColumn('blob_key', 'text', (col) => col.notNull())
        .addColumn('format', 'text', (col) => col.notNull())
        .addColumn('width', 'integer', (col) => col.notNull())
        .addColumn('height', 'integer', (col) => col.notNull())
        .addColumn('size_bytes', 'integer', (col) => col.notNull())
        .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
        .addColumn('expires_at_ms', 'bigint', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('images_expires').on('images').column('expires_at_ms').execute();
      await db.schema.createIndex('images_blob_key').on('images').column('blob_key').execute();
      await db.schema.createIndex('images_owner').on('images').columns(['api_key_id', 'seq']).execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Brings the schema up to date; safe to run on every start and from several processes. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
