import packageJson from '../package.json' with { type: 'json' };
import { keysCommand } from './cli/keys.ts';
import { serve } from './cli/serve.ts';
import { migrate } from './cli/migrate.ts';
import { ConfigError, loadConfig } from './config.ts';

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
    case 'migrate':
      return migrate(config);
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
