import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';

/**
 * Kysely's SQLite dialect over Node's built-in `node:sqlite`, so the embedded mode needs no
 * native addon build. Kysely's dialect expects better-sqlite3's shape (`reader`, arrays of
 * parameters); this adapts the two small differences.
 */
export function nodeSqliteDialect(file: string): SqliteDialect {
  const db = new DatabaseSync(file);
  // WAL lets readers go on while one writer writes; busy_timeout waits out a concurrent CLI write
  // instead of failing at once. synchronous=NORMAL is SQLite's recommended setting for WAL: no
  // corruption on power loss, at worst the last commits roll back, and no fsync per commit (which
  // would otherwise cap the gateway at a few hundred requests a second).
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
  return new SqliteDialect({ database: adaptDatabase(db) });
}

/** Distinct SQL texts kept compiled; the gateway issues a few dozen, so this never evicts in use. */
const STATEMENT_CACHE_SIZE = 256;

function adaptDatabase(db: DatabaseSync): SqliteDatabase {
  // Kysely prepares every query anew; compiling SQL is a measurable share of a request, and the
  // same few texts recur, so compiled statements are kept by text (oldest evicted first).
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare: (text: string) => {
      // Kysely opens transactions with a plain (deferred) BEGIN. Every transaction here writes,
      // and two processes that both read first and then upgrade to a write lock deadlock, which
      // SQLite answers with an immediate SQLITE_BUSY that busy_timeout does not wait out. Taking
      // the write lock at BEGIN makes the second process wait its turn instead.
      const sql = /^begin$/i.test(text.trim()) ? 'begin immediate' : text;
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = adaptStatement(db.prepare(sql));
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value ?? '');
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

function adaptStatement(statement: StatementSync): SqliteStatement {
  return {
    reader: statement.columns().length > 0,
    all: (parameters) => statement.all(...toSqlite(parameters)),
    run: (parameters) => statement.run(...toSqlite(parameters)),
    iterate: (parameters) => statement.iterate(...toSqlite(parameters)),
  };
}

/** node:sqlite binds no booleans or Dates; store them as 0/1 and epoch milliseconds. */
function toSqlite(parameters: ReadonlyArray<unknown>): SQLInputValue[] {
  return parameters.map((value) => {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value instanceof Date) return value.getTime();
    if (value === undefined) return null;
    return value as SQLInputValue;
  });
}
