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
  // instead of failing at once.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
  return new SqliteDialect({ database: adaptDatabase(db) });
}

function adaptDatabase(db: DatabaseSync): SqliteDatabase {
  return {
    close: () => db.close(),
    prepare: (sql: string) => adaptStatement(db.prepare(sql)),
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
