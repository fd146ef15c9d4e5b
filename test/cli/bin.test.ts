import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { MIN_NODE_MAJOR, nodeVersionProblem } from '../../scripts/node-version.mjs';
import { freePort } from '../support/free-port.ts';
import { BIN, ROOT, runProcess, tempDirs } from './run-cli.ts';

const PACKAGE: unknown = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Object.entries(value).find(([name]) => name === key)?.[1] : undefined;
}

/** PATH without the project's node_modules/.bin, which npm scripts put first: the machine's own tools. */
function machinePath(): string {
  const projectBin = path.join(ROOT, 'node_modules', '.bin');
  return (process.env['PATH'] ?? '')
    .split(path.delimiter)
    .filter((dir) => path.resolve(dir) !== projectBin)
    .join(path.delimiter);
}

/** A `node` on the machine's PATH older than the project needs, if there is one. */
function olderNode(): string | undefined {
  for (const dir of machinePath().split(path.delimiter)) {
    const candidate = path.join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    if (Number(version.split('.')[0]) < MIN_NODE_MAJOR) return candidate;
  }
  return undefined;
}

describe('the imagegate executable (bin/imagegate.mjs)', () => {
  const dirs = tempDirs();
  after(() => dirs.removeAll());

  it('package.json names it as the bin, and engines agrees with the version check', () => {
    assert.deepEqual(field(PACKAGE, 'bin'), { imagegate: 'bin/imagegate.mjs' });
    assert.deepEqual(field(PACKAGE, 'engines'), { node: `>=${MIN_NODE_MAJOR}` });
    // The shebang carries the gateway's V8 flags, so npm start, npx and the file itself all run with them.
    assert.ok(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env -S node --max-semi-space-size=8\n'));
    accessSync(BIN, constants.X_OK);
    const scripts = field(PACKAGE, 'scripts');
    assert.equal(field(scripts, 'start'), './bin/imagegate.mjs serve');
    assert.equal(field(scripts, 'imagegate'), './bin/imagegate.mjs');
  });

  it('the version check refuses Node before 24 with a message saying what to run', () => {
    assert.equal(MIN_NODE_MAJOR, 24);
    assert.equal(nodeVersionProblem('24.0.0'), undefined);
    assert.equal(nodeVersionProblem('25.1.0'), undefined);
    for (const version of ['20.20.2', '22.18.0', '23.11.1']) {
      const message = nodeVersionProblem(version) ?? assert.fail(version);
      assert.match(message, new RegExp(`^imagegate needs Node 24 or newer, but this is Node ${version.replaceAll('.', '\\.')}\\.\n`));
      assert.match(message, /npx imagegate/);
    }
  });

  it('runs the command with Node 24', async () => {
    const result = await runProcess(process.execPath, [BIN, '--version'], {}, dirs.fresh());
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${String(field(PACKAGE, 'version'))}\n`);
  });

  it('on an older Node prints the friendly message instead of ERR_UNKNOWN_FILE_EXTENSION', async (t) => {
    const node = olderNode();
    if (node === undefined) return t.skip(`no Node older than ${MIN_NODE_MAJOR} on this machine`);
    const result = await runProcess(node, [BIN, '--version'], { PATH: machinePath() }, dirs.fresh());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^imagegate needs Node 24 or newer, but this is Node \d+\./);
    assert.doesNotMatch(result.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
    assert.equal(result.stdout, '');
  });

  it("npx imagegate runs it with the project's Node 24, whatever node the machine has first on PATH", async () => {
    const result = await runProcess('npx', ['--no-install', 'imagegate', '--version'], { PATH: machinePath(), HOME: process.env['HOME'] ?? ROOT }, ROOT);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${String(field(PACKAGE, 'version'))}\n`);
  });

  it('started as the executable (npm start, npx), the gateway runs with the V8 flags of its shebang', async () => {
    const dataDir = dirs.fresh();
    const child = spawn(BIN, ['serve'], {
      cwd: dataDir,
      env: {
        PATH: `${path.join(ROOT, 'node_modules/.bin')}${path.delimiter}${machinePath()}`,
        IMAGEGATE_DATA_DIR: dataDir,
        IMAGEGATE_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('IMAGEGATE_KEY=')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
      });
      // env -S replaced itself with node: the process's own command line names the flag.
      const commandLine = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      assert.ok(commandLine.includes('--max-semi-space-size=8'), commandLine.join(' '));
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
  });
});
