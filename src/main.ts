import packageJson from '../package.json' with { type: 'json' };
import { keysCommand } from './cli/keys.ts';
import { serve } from './cli/serve.ts';
import { ConfigError, loadConfig, sqlitePath } from './config.ts';
import { openSqlite } from './db/database.ts';
import { migrateToLatest } from './db/migrations.ts';

const USAGE = `usage: imagegate <command>
  serve            run the gateway (default)
  keys …           create, list and revoke API keys (imagegate keys --help)
  migrate          bring the database schema up to date and exit
  --version        print the version`;

async function main(argv: readonly string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  if (command === '--version') {
    process.stdout.write(`${packageJson.version}\n`);
    return 0;
  }
  if (command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig();
  switch (command) {
    case 'serve':
      await serve(config);
      return 0;
    case 'keys':
      return keysCommand(config, rest);
    case 'migrate': {
      const db = openSqlite(sqlitePath(config));
      const applied = await migrateToLatest(db);
      await db.destroy();
      process.stdout.write(applied.length === 0 ? 'schema is up to date\n' : `applied ${applied.join(', ')}\n`);
      return 0;
    }
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`imagegate: ${message}\n`);
    process.exitCode = 1;
  },
);
