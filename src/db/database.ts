import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { nodeSqliteDialect } from './node-sqlite-dialect.ts';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface OpenedDatabase {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Opens the database the config names: PostgreSQL when a `postgres://` URL is given (scaled
 * mode), otherwise the embedded SQLite file, creating its folder on first use.
 */
export function openDatabase(options: {
  url?: string | undefined;
  sqlitePath: string;
  poolSize?: number;
  /** Errors of idle pooled connections (the server restarted, a connection was killed). */
  onIdleError?: (error: Error) => void;
}): OpenedDatabase {
  if (options.url !== undefined) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // Times and money are bigint columns holding epoch ms and micro-dollars, far below 2^53;
      // read them as numbers like SQLite does instead of pg's default strings.
      types: {
        // pg's own parsers are typed `any`; the override returns numbers for the two money/time types.
        getTypeParser: ((oid: number, format?: string) =>
          // eslint-disable-next-line @typescript-eslint/no-unsafe-return
          oid === INT8_OID || oid === NUMERIC_OID
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // pg emits 'error' on the pool when an idle connection dies; unhandled, that event would
    // crash the process on every database restart. The pool replaces the connection on its next
    // use; queries in flight fail on their own and are answered as errors.
    pool.on('error', (error) => options.onIdleError?.(error));
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres' };
  }
  const file = options.sqlitePath;
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  return { db: new Kysely<Database>({ dialect: nodeSqliteDialect(file) }), dialect: 'sqlite' };
}

/** Opens the embedded SQLite database (tools and tests that need no config). */
export function openSqlite(file: string): Kysely<Database> {
  return openDatabase({ sqlitePath: file }).db;
}
