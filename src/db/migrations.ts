import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { DialectName } from './database.ts';
import type { Database } from './schema.ts';

/**
 * Migrations live in code, in order, and are never edited once released: a change is a new entry.
 * They run on SQLite and PostgreSQL alike; the one difference, auto-increment keys, is chosen by
 * dialect. Kysely's migrator takes a lock, so replicas starting together migrate once.
 */
function migrations(dialect: DialectName): Record<string, Migration> {
  const serialKey = (table: string) => (dialect === 'postgres' ? sql`alter table ${sql.table(table)} add column seq bigserial primary key` : null);
  return {
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
        let images = db.schema.createTable('images');
        if (dialect === 'sqlite') images = images.addColumn('seq', 'integer', (col) => col.primaryKey().autoIncrement());
        await images
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
        const serial = serialKey('images');
        if (serial !== null) await serial.execute(db);
        await db.schema.createIndex('images_expires').on('images').column('expires_at_ms').execute();
        await db.schema.createIndex('images_blob_key').on('images').column('blob_key').execute();
        await db.schema.createIndex('images_owner').on('images').columns(['api_key_id', 'seq']).execute();
      },
    },
    '0002_limits_and_ledger': {
      async up(db: Kysely<unknown>): Promise<void> {
        const keyColumns: Array<[string, 'text' | 'bigint' | 'integer']> = [
          ['role', 'text'],
          ['allowed_models', 'text'],
          ['budget_micro_usd', 'bigint'],
          ['committed_micro_usd', 'bigint'],
          ['requests_per_minute', 'integer'],
          ['images_per_minute', 'integer'],
          ['max_concurrent', 'integer'],
          ['expires_at_ms', 'bigint'],
          ['metadata', 'text'],
          ['updated_at_ms', 'bigint'],
        ];
        // SQLite adds one column per ALTER; defaults are filled in by the update below.
        for (const [name, type] of keyColumns) {
          await db.schema.alterTable('api_keys').addColumn(name, type).execute();
        }
        await sql`update api_keys set role = 'user', committed_micro_usd = 0, updated_at_ms = created_at_ms`.execute(db);

        let ledger = db.schema.createTable('ledger_entries');
        if (dialect === 'sqlite') ledger = ledger.addColumn('seq', 'integer', (col) => col.primaryKey().autoIncrement());
        await ledger
          .addColumn('id', 'text', (col) => col.notNull().unique())
          .addColumn('api_key_id', 'text', (col) => col.notNull().references('api_keys.id'))
          .addColumn('request_id', 'text', (col) => col.notNull())
          // hold: the most a request may cost, taken before calling upstream; release: a hold given
          // back (ref_id names it); charge: what the delivered images cost.
          .addColumn('kind', 'text', (col) => col.notNull())
          .addColumn('amount_micro_usd', 'bigint', (col) => col.notNull())
          .addColumn('ref_id', 'text')
          .addColumn('model', 'text', (col) => col.notNull())
          .addColumn('image_count', 'integer', (col) => col.notNull())
          .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('expires_at_ms', 'bigint')
          .execute();
        const serial = serialKey('ledger_entries');
        if (serial !== null) await serial.execute(db);
        await db.schema.createIndex('ledger_key_time').on('ledger_entries').columns(['api_key_id', 'created_at_ms']).execute();
        await db.schema.createIndex('ledger_ref').on('ledger_entries').column('ref_id').execute();
        await db.schema.createIndex('ledger_kind_expiry').on('ledger_entries').columns(['kind', 'expires_at_ms']).execute();
      },
    },
    '0003_jobs': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('api_key_id', 'text', (col) => col.notNull().references('api_keys.id'))
          .addColumn('kind', 'text', (col) => col.notNull())
          // queued → running → succeeded | failed; a running job whose lease ran out is queued again.
          .addColumn('status', 'text', (col) => col.notNull())
          .addColumn('request_json', 'text', (col) => col.notNull())
          .addColumn('webhook_url', 'text')
          .addColumn('result_status', 'integer')
          .addColumn('result_json', 'text')
          .addColumn('attempts', 'integer', (col) => col.notNull())
          .addColumn('locked_by', 'text')
          .addColumn('lease_until_ms', 'bigint')
          .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('updated_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('completed_at_ms', 'bigint')
          .execute();
        await db.schema.createIndex('jobs_claim').on('jobs').columns(['status', 'created_at_ms']).execute();
      },
    },
    '0004_webhook_deliveries': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('webhook_deliveries')
          .addColumn('id', 'text', (col) => col.primaryKey())
          // Unique: a job is reported once, even if its finish were ever written twice.
          .addColumn('job_id', 'text', (col) => col.notNull().unique().references('jobs.id'))
          .addColumn('url', 'text', (col) => col.notNull())
          .addColumn('payload_json', 'text', (col) => col.notNull())
          // pending → delivering → delivered | failed; a delivering one whose lease ran out is retaken.
          .addColumn('status', 'text', (col) => col.notNull())
          .addColumn('attempts', 'integer', (col) => col.notNull())
          .addColumn('next_attempt_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('locked_by', 'text')
          .addColumn('lease_until_ms', 'bigint')
          .addColumn('last_error', 'text')
          .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('updated_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('delivered_at_ms', 'bigint')
          .execute();
        await db.schema.createIndex('webhook_deliveries_claim').on('webhook_deliveries').columns(['status', 'next_attempt_at_ms']).execute();
      },
    },
    '0005_organizations_and_prices': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('organizations')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('name', 'text', (col) => col.notNull())
          .addColumn('price_group', 'text', (col) => col.notNull())
          .addColumn('budget_micro_usd', 'bigint')
          // Running totals kept in step with the ledger inside its transactions, like a key's.
          .addColumn('committed_micro_usd', 'bigint', (col) => col.notNull())
          .addColumn('credited_micro_usd', 'bigint', (col) => col.notNull())
          .addColumn('metadata', 'text')
          .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('updated_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('deleted_at_ms', 'bigint')
          .execute();
        let credits = db.schema.createTable('organization_credits');
        if (dialect === 'sqlite') credits = credits.addColumn('seq', 'integer', (col) => col.primaryKey().autoIncrement());
        await credits
          .addColumn('id', 'text', (col) => col.notNull().unique())
          .addColumn('organization_id', 'text', (col) => col.notNull().references('organizations.id'))
          .addColumn('amount_micro_usd', 'bigint', (col) => col.notNull())
          .addColumn('reference', 'text')
          .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
          .execute();
        const serial = serialKey('organization_credits');
        if (serial !== null) await serial.execute(db);
        await db.schema.createIndex('organization_credits_org').on('organization_credits').columns(['organization_id', 'created_at_ms']).execute();
        await db.schema
          .createTable('price_groups')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('multiplier', 'double precision', (col) => col.notNull())
          // JSON object: catalog model id → PriceRule replacing its list price in this group.
          .addColumn('model_prices', 'text', (col) => col.notNull())
          .addColumn('created_at_ms', 'bigint', (col) => col.notNull())
          .addColumn('updated_at_ms', 'bigint', (col) => col.notNull())
          .execute();
        await sql`insert into price_groups (id, multiplier, model_prices, created_at_ms, updated_at_ms) values ('default', 1, '{}', 0, 0)`.execute(db);
        await db.schema.alterTable('api_keys').addColumn('organization_id', 'text').execute();
        // What every entry was priced at, and for charges what the channel that delivered it cost upstream.
        const ledgerColumns: Array<[string, 'text' | 'bigint']> = [
          ['organization_id', 'text'],
          ['price_group', 'text'],
          ['price_json', 'text'],
          ['channel', 'text'],
          ['upstream_cost_micro_usd', 'bigint'],
        ];
        for (const [name, type] of ledgerColumns) await db.schema.alterTable('ledger_entries').addColumn(name, type).execute();
        await db.schema.createIndex('ledger_org_time').on('ledger_entries').columns(['organization_id', 'created_at_ms']).execute();
      },
    },
  };
}

/** Brings the schema up to date; safe to run on every start and from several processes. */
export async function migrateToLatest(db: Kysely<Database>, dialect: DialectName = 'sqlite'): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
