import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/imagegate.mjs');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `command args` to its end in `cwd` with exactly `env` (plus PATH) and collects its output.
 * A command that should have ended but keeps running (`serve` started where `--help` was meant) is
 * killed after `timeoutMs` and fails the test instead of hanging it.
 */
export async function runProcess(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
  timeoutMs = 30_000,
): Promise<CliResult> {
  const child = spawn(command, [...args], { cwd, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  }).finally(() => clearTimeout(timer));
  if (timedOut) throw new Error(`${path.basename(command)} ${args.join(' ')} still ran after ${timeoutMs} ms; output so far:\n${stdout}${stderr}`);
  return { code, stdout, stderr };
}

/**
 * `imagegate …` through bin/imagegate.mjs with the Node running the tests (the pinned Node 24),
 * in its data directory so that no imagegate.yaml of the repo is read.
 */
export async function imagegate(args: readonly string[], env: Readonly<Record<string, string>> & { IMAGEGATE_DATA_DIR: string }): Promise<CliResult> {
  return runProcess(process.execPath, [BIN, ...args], env, env.IMAGEGATE_DATA_DIR);
}

/** Temporary folders removed by `removeAll`, for an `after` hook. */
export function tempDirs(): { fresh(): string; removeAll(): void } {
  const dirs: string[] = [];
  return {
    fresh: () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-cli-'));
      dirs.push(dir);
      return dir;
    },
    removeAll: () => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
