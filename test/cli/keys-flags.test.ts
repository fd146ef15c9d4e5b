import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/command-line.ts';
import { parseCount, parseList, parseMoment, parsePair, parseUsd } from '../../src/cli/flag-values.ts';
import { imagegate, tempDirs } from './run-cli.ts';

/** The message a parser refuses `text` with. */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  assert.fail('expected the value to be refused');
}

describe('numeric and other flag values', () => {
  it('a budget is a plain decimal number of US dollars, 0 up to the admin API ceiling', () => {
    assert.equal(parseUsd('--budget', '5'), 5);
    assert.equal(parseUsd('--budget', '0.50'), 0.5);
    assert.equal(parseUsd('--budget', '.25'), 0.25);
    assert.equal(parseUsd('--budget', '0'), 0);
    assert.equal(parseUsd('--budget', '1000000000'), 1_000_000_000);
    const base = '--budget: expected a number of US dollars such as 5 or 0.50';
    assert.equal(
      refusal(() => parseUsd('--budget', 'abc')),
      `${base}, got 'abc'`,
    );
    // Number() would take each of these.
    for (const text of ['', ' ', '1e3', '0x10', 'Infinity', '5 ', '$5', '5,00'])
      assert.equal(
        refusal(() => parseUsd('--budget', text)),
        `${base}, got '${text}'`,
      );
    assert.equal(
      refusal(() => parseUsd('--budget', '-1')),
      `${base}, 0 or more, got '-1'`,
    );
    assert.equal(
      refusal(() => parseUsd('--budget', '-0.5')),
      `${base}, 0 or more, got '-0.5'`,
    );
    assert.equal(
      refusal(() => parseUsd('--budget', '1000000000.01')),
      `${base}, at most 1000000000, got '1000000000.01'`,
    );
  });

  it('limits are whole numbers, 1 or more, that fit the database column', () => {
    assert.equal(parseCount('--images-per-minute', '10', 'images per minute', 10), 10);
    assert.equal(parseCount('--max-concurrent', '1', 'generations at once', 2), 1);
    assert.equal(parseCount('--max-concurrent', '2147483647', 'generations at once', 2), 2_147_483_647);
    const base = '--requests-per-minute: expected a whole number of requests per minute such as 60';
    const count = (text: string) => refusal(() => parseCount('--requests-per-minute', text, 'requests per minute', 60));
    for (const text of ['abc', '1.5', '1e2', '', ' 3']) assert.equal(count(text), `${base}, got '${text}'`);
    assert.equal(count('0'), `${base}, 1 or more, got '0'`);
    assert.equal(count('-3'), `${base}, 1 or more, got '-3'`);
    assert.equal(count('2147483648'), `${base}, at most 2147483647, got '2147483648'`);
  });

  it('an expiry is an ISO date, an ISO date-time with its zone, or unix seconds', () => {
    assert.equal(parseMoment('--expires-at', '2027-01-01'), Date.UTC(2027, 0, 1) / 1000);
    assert.equal(parseMoment('--expires-at', '2027-01-01T12:00:00Z'), Date.UTC(2027, 0, 1, 12) / 1000);
    assert.equal(parseMoment('--expires-at', '2027-01-01T12:00+02:00'), Date.UTC(2027, 0, 1, 10) / 1000);
    assert.equal(parseMoment('--expires-at', '1798761600'), 1_798_761_600);
    const message = (text: string) =>
      `--expires-at: expected a date such as 2027-01-01, a date and time with its zone such as 2027-01-01T12:00:00Z, or unix seconds such as 1798761600, got '${text}'`;
    // Date.parse takes 2027-02-30 (as March 2) and 'May 1'; a time without a zone depends on the machine.
    for (const text of ['garbage', '2027-02-30', '2027-13-01', 'May 1', '-5', '2027-01-01T12:00', 'tomorrow', '99999999999999']) {
      assert.equal(
        refusal(() => parseMoment('--expires-at', text)),
        message(text),
      );
    }
  });

  it('metadata is KEY=VALUE and model lists have no empty entries', () => {
    assert.deepEqual(parsePair('--meta', 'project=web'), ['project', 'web']);
    assert.deepEqual(parsePair('--meta', 'query=a=b'), ['query', 'a=b']);
    assert.deepEqual(parsePair('--meta', 'note='), ['note', '']);
    assert.equal(
      refusal(() => parsePair('--meta', 'novalue')),
      "--meta: expected KEY=VALUE such as project=web, got 'novalue'",
    );
    assert.equal(
      refusal(() => parsePair('--meta', '=x')),
      "--meta: expected KEY=VALUE such as project=web, got '=x'",
    );
    assert.deepEqual(parseList('--models', 'dall-e-3, gpt-image-1', 'x'), ['dall-e-3', 'gpt-image-1']);
    assert.match(
      refusal(() => parseList('--models', 'dall-e-3,,gpt-image-1', 'dall-e-3,gpt-image-1')),
      /^--models: expected a comma-separated list/,
    );
  });
});

describe('imagegate keys with bad values', { concurrency: 4 }, () => {
  const dirs = tempDirs();
  after(() => dirs.removeAll());

  const cases: Array<{ args: string[]; stderr: string }> = [
    { args: ['--budget', 'abc'], stderr: "imagegate: --budget: expected a number of US dollars such as 5 or 0.50, got 'abc'\n" },
    { args: ['--budget', '-1'], stderr: "imagegate: --budget: expected a number of US dollars such as 5 or 0.50, 0 or more, got '-1'\n" },
    { args: ['--budget=-1'], stderr: "imagegate: --budget: expected a number of US dollars such as 5 or 0.50, 0 or more, got '-1'\n" },
    {
      args: ['--requests-per-minute', '0'],
      stderr: "imagegate: --requests-per-minute: expected a whole number of requests per minute such as 60, 1 or more, got '0'\n",
    },
    { args: ['--images-per-minute', 'ten'], stderr: "imagegate: --images-per-minute: expected a whole number of images per minute such as 10, got 'ten'\n" },
    {
      args: ['--max-concurrent', '-2'],
      stderr: "imagegate: --max-concurrent: expected a whole number of generations at once such as 2, 1 or more, got '-2'\n",
    },
    { args: ['--max-concurrent', '2.5'], stderr: "imagegate: --max-concurrent: expected a whole number of generations at once such as 2, got '2.5'\n" },
    {
      args: ['--expires-at', 'soon'],
      stderr:
        "imagegate: --expires-at: expected a date such as 2027-01-01, a date and time with its zone such as 2027-01-01T12:00:00Z, or unix seconds such as 1798761600, got 'soon'\n",
    },
    { args: ['--meta', 'owner'], stderr: "imagegate: --meta: expected KEY=VALUE such as project=web, got 'owner'\n" },
  ];
  for (const { args, stderr } of cases) {
    it(`keys create ${args.join(' ')} is refused with exit code 2, naming the flag, and creates nothing`, async () => {
      const env = { IMAGEGATE_DATA_DIR: dirs.fresh() };
      const result = await imagegate(['keys', 'create', ...args], env);
      assert.equal(result.code, 2);
      assert.equal(result.stderr, stderr);
      assert.equal(result.stdout, '');
      const listed = await imagegate(['keys', 'list'], env);
      assert.equal(listed.stdout, '');
    });
  }

  it('keys update checks the same way, takes none to clear a limit, and good values arrive in the key', async () => {
    const env = { IMAGEGATE_DATA_DIR: dirs.fresh() };
    const created = await imagegate(
      ['keys', 'create', '--name', 'bob', '--budget', '0.50', '--images-per-minute', '10', '--expires-at', '2027-01-01', '--meta', 'project=web'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const id = /created (key_[0-9a-f]+) \(bob\)/.exec(created.stdout)?.[1] ?? assert.fail(created.stdout);

    const bad = await imagegate(['keys', 'update', id, '--budget', 'lots'], env);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, "imagegate: --budget: expected a number of US dollars such as 5 or 0.50, got 'lots'\n");

    const shown = await imagegate(['keys', 'show', id], env);
    const before: unknown = JSON.parse(shown.stdout);
    assert.deepEqual(before, {
      ...objectOf(before),
      budget_usd: 0.5,
      images_per_minute: 10,
      expires_at: Date.UTC(2027, 0, 1) / 1000,
      metadata: { project: 'web' },
    });

    const updated = await imagegate(['keys', 'update', id, '--budget', 'none', '--max-concurrent', '3', '--meta', 'none'], env);
    assert.equal(updated.code, 0, updated.stderr);
    const after: unknown = JSON.parse(updated.stdout);
    assert.deepEqual(after, { ...objectOf(after), budget_usd: null, max_concurrent: 3, images_per_minute: 10, metadata: null });
  });
});

function objectOf(value: unknown): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value));
  return Object.fromEntries(Object.entries(value));
}
