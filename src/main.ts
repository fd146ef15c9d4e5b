import packageJson from '../package.json' with { type: 'json' };
import { AUDIT_USAGE, audit } from './cli/audit.ts';
import { parseCommandLine, printUsage, UsageError, wantsHelp } from './cli/command-line.ts';
import { GENERATE_USAGE, generateCommand } from './cli/generate.ts';
import { KEYS_USAGE, keysCommand } from './cli/keys.ts';
import { MIGRATE_USAGE, migrate } from './cli/migrate.ts';
import { ConfigError, loadConfig } from './config.ts';

const USAGE = `usage: imagegate [command] (imagegate <command> --help for its options)
  serve            run the gateway (the default)
  keys …           create, list, show, update and revoke API keys
  generate PROMPT  make images on a running gateway and save them
  migrate          bring the database schema up to date and exit
  audit            check the ledger's invariants (exit 1 on any violation)
  --version        print the version
  --help           print this`;

const SERVE_USAGE = `usage: imagegate serve
Runs the gateway until SIGTERM or SIGINT. It takes no flags: settings come from environment
variables and imagegate.yaml (the README's Configuration section lists them).`;

const COMMAND_USAGE: Readonly<Record<string, string>> = {
  serve: SERVE_USAGE,
  keys: KEYS_USAGE,
  migrate: MIGRATE_USAGE,
  audit: AUDIT_USAGE,
  generate: GENERATE_USAGE,
};

/** Runs one command and returns the exit code. Help and argument checks come before the config is read. */
async function main(argv: readonly string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case '--version':
      process.stdout.write(`${packageJson.version}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help': {
      const [topic] = rest;
      const usage = topic === undefined ? USAGE : Object.hasOwn(COMMAND_USAGE, topic) ? COMMAND_USAGE[topic] : undefined;
      if (usage === undefined) throw new UsageError(`unknown command '${topic ?? ''}'`, USAGE);
      return printUsage(usage);
    }
    case 'serve': {
      if (wantsHelp(rest)) return printUsage(SERVE_USAGE);
      parseCommandLine({ usage: SERVE_USAGE, options: {}, positionals: [] }, rest);
      // Loaded only here: the server pulls in fastify, sharp and the S3 client, which the other
      // commands (and --help) need not wait for.
      const { serve } = await import('./cli/serve.ts');
      await serve(loadConfig());
      return 0;
    }
    case 'keys':
      return keysCommand(rest, loadConfig);
    case 'generate':
      return generateCommand(rest, loadConfig);
    case 'migrate':
      if (wantsHelp(rest)) return printUsage(MIGRATE_USAGE);
      parseCommandLine({ usage: MIGRATE_USAGE, options: {}, positionals: [] }, rest);
      return migrate(loadConfig());
    case 'audit':
      if (wantsHelp(rest)) return printUsage(AUDIT_USAGE);
      parseCommandLine({ usage: AUDIT_USAGE, options: {}, positionals: [] }, rest);
      return audit(loadConfig());
    default:
      throw new UsageError(command.startsWith('-') ? `unknown option '${command}'` : `unknown command '${command}'`, USAGE);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`imagegate: ${err.message}\n${err.usage === undefined ? '' : `${err.usage}\n`}`);
      process.exitCode = 2;
      return;
    }
    const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`imagegate: ${message}\n`);
    process.exitCode = 1;
  },
);
