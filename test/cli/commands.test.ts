import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { imagegate, ROOT, tempDirs } from './run-cli.ts';

const VERSION: unknown = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

describe('imagegate --version, --help and usage errors', { concurrency: 4 }, () => {
  const dirs = tempDirs();
  after(() => dirs.removeAll());
  // A setting that would stop any command that reads the config: help must not need it.
  const brokenConfig = (): { IMAGEGATE_DATA_DIR: string; IMAGEGATE_PORT: string } => ({ IMAGEGATE_DATA_DIR: dirs.fresh(), IMAGEGATE_PORT: 'eighty' });

  it('--version prints the version of package.json', async () => {
    assert.equal(typeof VERSION, 'string');
    const result = await imagegate(['--version'], brokenConfig());
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${String(VERSION)}\n`);
  });

  const helps: Array<{ args: string[]; usage: string }> = [
    { args: ['--help'], usage: 'usage: imagegate [command]' },
    { args: ['help'], usage: 'usage: imagegate [command]' },
    { args: ['serve', '--help'], usage: 'usage: imagegate serve' },
    { args: ['help', 'serve'], usage: 'usage: imagegate serve' },
    { args: ['migrate', '--help'], usage: 'usage: imagegate migrate' },
    { args: ['migrate', '-h'], usage: 'usage: imagegate migrate' },
    { args: ['keys', '--help'], usage: 'usage: imagegate keys <command>' },
    { args: ['help', 'keys'], usage: 'usage: imagegate keys <command>' },
    { args: ['keys', 'create', '--help'], usage: 'usage: imagegate keys create' },
    { args: ['keys', 'list', '--help'], usage: 'usage: imagegate keys list' },
    { args: ['keys', 'show', '--help'], usage: 'usage: imagegate keys show ID' },
    { args: ['keys', 'update', '--help'], usage: 'usage: imagegate keys update ID' },
    { args: ['keys', 'update', 'key_1', '--budget', 'abc', '--help'], usage: 'usage: imagegate keys update ID' },
    { args: ['keys', 'revoke', '--help'], usage: 'usage: imagegate keys revoke ID|PREFIX' },
  ];
  for (const { args, usage } of helps) {
    it(`${args.join(' ')} prints usage and exits 0 without reading the config or touching the database`, async () => {
      const env = brokenConfig();
      const result = await imagegate(args, env);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.startsWith(usage), result.stdout);
      assert.equal(result.stderr, '');
      assert.ok(!existsSync(path.join(env.IMAGEGATE_DATA_DIR, 'imagegate.db')));
    });
  }

  it('the main usage names every command and the keys usage every subcommand', async () => {
    const main = await imagegate(['--help'], brokenConfig());
    for (const command of ['serve', 'keys', 'migrate', '--version']) assert.match(main.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    const keys = await imagegate(['keys', '--help'], brokenConfig());
    for (const command of ['create', 'list', 'show', 'update', 'revoke']) assert.match(keys.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    const create = await imagegate(['keys', 'create', '--help'], brokenConfig());
    for (const flag of [
      '--name',
      '--budget',
      '--requests-per-minute',
      '--images-per-minute',
      '--max-concurrent',
      '--models',
      '--expires-at',
      '--meta',
      '--admin',
    ]) {
      assert.ok(create.stdout.includes(`  ${flag} `), `${flag} missing from keys create --help`);
    }
  });

  const mistakes: Array<{ args: string[]; message: RegExp; usage: string }> = [
    { args: ['frobnicate'], message: /^imagegate: unknown command 'frobnicate'$/m, usage: 'usage: imagegate [command]' },
    { args: ['--frobnicate'], message: /^imagegate: unknown option '--frobnicate'$/m, usage: 'usage: imagegate [command]' },
    { args: ['help', 'frobnicate'], message: /^imagegate: unknown command 'frobnicate'$/m, usage: 'usage: imagegate [command]' },
    { args: ['serve', '--port', '80'], message: /^imagegate: unknown option '--port'$/m, usage: 'usage: imagegate serve' },
    { args: ['serve', 'now'], message: /^imagegate: unexpected argument 'now'$/m, usage: 'usage: imagegate serve' },
    { args: ['migrate', '--force'], message: /^imagegate: unknown option '--force'$/m, usage: 'usage: imagegate migrate' },
    { args: ['keys'], message: /^imagegate: missing command$/m, usage: 'usage: imagegate keys <command>' },
    { args: ['keys', 'frobnicate'], message: /^imagegate: unknown command 'keys frobnicate'$/m, usage: 'usage: imagegate keys <command>' },
    { args: ['keys', 'create', '--bogus'], message: /^imagegate: unknown option '--bogus'$/m, usage: 'usage: imagegate keys create' },
    { args: ['keys', 'create', '-x'], message: /^imagegate: unknown option '-x'$/m, usage: 'usage: imagegate keys create' },
    { args: ['keys', 'create', 'alice'], message: /^imagegate: unexpected argument 'alice'$/m, usage: 'usage: imagegate keys create' },
    { args: ['keys', 'create', '--budget'], message: /^imagegate: --budget needs a value$/m, usage: 'usage: imagegate keys create' },
    { args: ['keys', 'create', '--budget', '--name', 'x'], message: /^imagegate: --budget needs a value$/m, usage: 'usage: imagegate keys create' },
    { args: ['keys', 'create', '--admin=yes'], message: /^imagegate: --admin takes no value, got 'yes'$/m, usage: 'usage: imagegate keys create' },
    { args: ['keys', 'list', '--budget', '5'], message: /^imagegate: unknown option '--budget'$/m, usage: 'usage: imagegate keys list' },
    { args: ['keys', 'show'], message: /^imagegate: missing ID$/m, usage: 'usage: imagegate keys show ID' },
    { args: ['keys', 'update', '--budget', '5'], message: /^imagegate: missing ID$/m, usage: 'usage: imagegate keys update ID' },
    { args: ['keys', 'update', 'key_1'], message: /^imagegate: nothing to change/m, usage: 'usage: imagegate keys update ID' },
    { args: ['keys', 'update', 'key_1', '--admin'], message: /^imagegate: unknown option '--admin'$/m, usage: 'usage: imagegate keys update ID' },
    { args: ['keys', 'revoke'], message: /^imagegate: missing ID\|PREFIX$/m, usage: 'usage: imagegate keys revoke ID|PREFIX' },
    { args: ['keys', 'revoke', 'a', 'b'], message: /^imagegate: unexpected argument 'b'$/m, usage: 'usage: imagegate keys revoke ID|PREFIX' },
  ];
  for (const { args, message, usage } of mistakes) {
    it(`${args.join(' ')} exits 2 with the message and the usage on stderr`, async () => {
      const env = { IMAGEGATE_DATA_DIR: dirs.fresh() };
      const result = await imagegate(args, env);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.ok(result.stderr.includes(`\n${usage}`), result.stderr);
      assert.equal(result.stdout, '');
      assert.ok(!existsSync(path.join(env.IMAGEGATE_DATA_DIR, 'imagegate.db')), 'a usage error opens no database');
    });
  }
});
