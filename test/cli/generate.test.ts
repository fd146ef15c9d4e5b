import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decode } from '../support/images.ts';
import { freePort } from '../support/free-port.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { BIN, type CliResult, imagegate, runProcess, tempDirs } from './run-cli.ts';

/** `saved PATH (SIZE)` lines of a run. */
function savedFiles(result: CliResult): string[] {
  return [...result.stdout.matchAll(/^saved (.+) \(\d+(?:\.\d)? [kM]B\)$/gm)].map((match) => match[1] ?? '');
}

describe('imagegate generate against a running gateway', { concurrency: 2 }, () => {
  const dirs = tempDirs();
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
    dirs.removeAll();
  });

  /** The command with the gateway's address and key in the environment, as a user would set them. */
  const run = (args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> =>
    imagegate(['generate', ...args], { IMAGEGATE_DATA_DIR: dirs.fresh(), IMAGEGATE_BASE_URL: gateway.baseUrl, IMAGEGATE_KEY: gateway.key, ...env });

  it('--help prints its usage without reading the config', async () => {
    const result = await imagegate(['generate', '--help'], { IMAGEGATE_DATA_DIR: dirs.fresh(), IMAGEGATE_PORT: 'eighty' });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.startsWith('usage: imagegate generate PROMPT [options]'));
    for (const flag of ['--model', '--size', '--n', '--out', '--base-url', '--key', '--json', '--partial-images'])
      assert.ok(result.stdout.includes(`  ${flag} `), flag);
  });

  it('saves the images with their extension, prints plain lines and the cost it was charged', async () => {
    const out = path.join(dirs.fresh(), 'images');
    const own = await gateway.deps.keys.create({ name: 'cli' });
    const result = await run(['a lighthouse at night', '--model', 'gpt-image-1', '--size', '1536x1024', '--n', '2', '--quality', 'low', '--out', out], {
      IMAGEGATE_KEY: own.plaintext,
    });
    assert.equal(result.code, 0, result.stderr);
    const files = savedFiles(result);
    assert.equal(files.length, 2, result.stdout);
    assert.deepEqual(readdirSync(out).sort(), files.map((file) => path.basename(file)).sort());
    for (const file of files) {
      assert.match(path.basename(file), /^a-lighthouse-at-night-\d{8}-\d{6}-[12]\.png$/);
      const decoded = await decode(readFileSync(file));
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 1536, 1024]);
    }
    const cost = /^cost \$(\d+\.\d{6})$/m.exec(result.stdout)?.[1];
    assert.ok(cost !== undefined, result.stdout);
    assert.equal(Math.round(Number(cost) * 1e6), (await gateway.deps.keys.get(own.row.id))?.committed_micro_usd);
    assert.match(result.stderr, /^gpt-image-1: 2 × 1536x1024, low, up to \$\d+\.\d{4}$/m);
    assert.ok(!result.stderr.includes('\u001b'), 'no terminal codes outside a terminal');
  });

  for (const [format, ext] of [
    ['webp', 'webp'],
    ['jpeg', 'jpg'],
  ] as const) {
    it(`--format ${format} writes .${ext} files that are ${format}`, async () => {
      const out = dirs.fresh();
      const result = await run(['a kite', '--model', 'gpt-image-1-mini', '--quality', 'low', '--format', format, '--out', out]);
      assert.equal(result.code, 0, result.stderr);
      const [file = ''] = savedFiles(result);
      assert.ok(file.endsWith(`.${ext}`), file);
      assert.equal((await decode(readFileSync(file))).format, format);
    });
  }

  it('--json prints the response, its images replaced by the files saved', async () => {
    const out = dirs.fresh();
    const result = await run(['a red boat', '--model', 'dall-e-3', '--json', '--out', out]);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as { created: number; data: Array<{ file: string; revised_prompt?: string }>; headers: Record<string, string> };
    assert.equal(body.data.length, 1);
    assert.ok(existsSync(body.data[0]?.file ?? ''));
    assert.ok((body.data[0]?.revised_prompt ?? '').length > 0);
    assert.equal(body.headers['x-imagegate-provider'], 'local');
    assert.ok(Number(body.headers['x-imagegate-cost-usd']) > 0);
    assert.ok(!result.stdout.includes('b64_json'));
    assert.match(result.stderr, /^saved .+\.png \(/m, 'with --json the saved lines go to stderr');
  });

  it('streams partial images of a model that streams, and says so as plain lines', async () => {
    const out = dirs.fresh();
    const result = await run(['a fox in the snow', '--model', 'gpt-image-1-mini', '--quality', 'low', '--n', '2', '--partial-images', '2', '--out', out]);
    assert.equal(result.code, 0, result.stderr);
    for (let partial = 1; partial <= 4; partial += 1) assert.match(result.stderr, new RegExp(`^partial image ${partial} of 4 received$`, 'm'));
    assert.equal(savedFiles(result).length, 2);
    assert.match(result.stdout, /^cost about \$\d+\.\d{6} \(from the usage reported\)$/m);
  });

  it('takes the address from the configuration when IMAGEGATE_BASE_URL is not set', async () => {
    const port = new URL(gateway.baseUrl).port;
    const result = await imagegate(['generate', 'a moon', '--model', 'dall-e-2', '--size', '256x256', '--out', dirs.fresh()], {
      IMAGEGATE_DATA_DIR: dirs.fresh(),
      IMAGEGATE_HOST: '0.0.0.0',
      IMAGEGATE_PORT: port,
      IMAGEGATE_KEY: gateway.key,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(savedFiles(result).length, 1);
  });

  it('exits with a code a script can branch on', async () => {
    const broke = await gateway.deps.keys.create({ name: 'broke', budgetMicroUsd: 0 });
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cases: Array<{ what: string; args: string[]; env?: Record<string, string>; code: number; message: RegExp }> = [
      {
        what: 'a refused value',
        args: ['x', '--model', 'dall-e-3', '--size', '999x999'],
        code: 3,
        message: /Invalid value '999x999' for 'size'.*\(invalid_value, HTTP 400\)/,
      },
      { what: 'an unknown model', args: ['x', '--model', 'dall-e-9'], code: 3, message: /model_not_found/ },
      { what: 'a rejected key', args: ['x'], env: { IMAGEGATE_KEY: 'sk-ig-not-a-key' }, code: 4, message: /Incorrect API key provided.*HTTP 401/ },
      { what: 'an empty budget', args: ['x', '--model', 'dall-e-3'], env: { IMAGEGATE_KEY: broke.plaintext }, code: 5, message: /quota.*HTTP 429/ },
      {
        what: 'a gateway that is not there',
        args: ['x'],
        env: { IMAGEGATE_BASE_URL: closed },
        code: 6,
        message: /cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
      },
      { what: 'no key', args: ['x'], env: { IMAGEGATE_KEY: '' }, code: 2, message: /no key: set IMAGEGATE_KEY or pass --key/ },
      { what: 'a bad --n', args: ['x', '--n', 'two'], code: 2, message: /--n: expected a whole number of images/ },
      {
        what: 'partial images of a model that does not stream',
        args: ['x', '--model', 'dall-e-3', '--partial-images', '1'],
        code: 2,
        message: /dall-e-3 does not stream/,
      },
      { what: 'no prompt', args: [], code: 2, message: /missing PROMPT/ },
    ];
    // One at a time: each is a Node process starting up, and the machine may be busy.
    for (const { what, args, env = {}, code, message } of cases) {
      const result = await run(args, env);
      assert.equal(result.code, code, `${what}: ${result.stderr}`);
      assert.match(result.stderr, message, what);
      assert.doesNotMatch(result.stdout, /^saved /m, what);
    }
  });

  it('shows its progress in place on a terminal', { skip: !existsSync('/usr/bin/script') && 'needs script(1) for a pseudo-terminal' }, async () => {
    const out = dirs.fresh();
    // script(1) runs the command on a pseudo-terminal, so stderr is a TTY as in a user's shell.
    const command = [process.execPath, BIN, 'generate', "'a boat at dawn'", '--model', 'gpt-image-1-mini', '--quality', 'low', '--n', '2', '--out', out].join(
      ' ',
    );
    const result = await runProcess(
      '/usr/bin/script',
      ['-qec', command, '/dev/null'],
      { IMAGEGATE_BASE_URL: gateway.baseUrl, IMAGEGATE_KEY: gateway.key, TERM: 'xterm' },
      out,
    );
    assert.equal(result.code, 0, result.stdout);
    // The line is redrawn in place: carriage return, erase line (ESC [2K), spinner, status.
    assert.ok(result.stdout.includes('\r\u001b[2K'), 'the line is redrawn in place');
    assert.match(result.stdout, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting for the first partial image \(\d+\.\d s\)/);
    assert.match(result.stdout, /partial image 1 of 2 received/, 'a terminal streams one partial image per image by default');
    assert.match(result.stdout, /saved .*a-boat-at-dawn-\d{8}-\d{6}-2\.png/);
    assert.match(result.stdout, /✔ 2 images in \d+\.\d s, cost about \$\d+\.\d{6}/);
    assert.equal(readdirSync(out).filter((file) => file.endsWith('.png')).length, 2);
  });
});
