import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Started {
  readonly child: ChildProcess;
  /** The first stdout line matching the wanted pattern. */
  readonly line: string;
}

/**
 * Starts a Node child (the pinned Node 24) and waits for a line of its stdout to match.
 * `executable`: the script is run as a program (its shebang decides how), with the project's
 * node_modules/.bin first on PATH, exactly as `npm start` runs bin/imagegate.mjs.
 */
export async function startNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  options: { timeoutMs?: number; executable?: boolean } = {},
): Promise<Started> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const binPath = `${path.join(ROOT, 'node_modules/.bin')}${path.delimiter}${process.env['PATH'] ?? ''}`;
  const [command, commandArgs] = options.executable === true ? [path.join(ROOT, script), args] : [process.execPath, [path.join(ROOT, script), ...args]];
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { PATH: binPath, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${text}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = text.split('\n').find((l) => ready.test(l));
      if (match !== undefined) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${text}`)));
  });
  child.stdout?.resume();
  return { child, line };
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Resident set size of a process, in MB, from /proc. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat's CPU times (100 on Linux). */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // gone
  }
}

/**
 * CPU time (user + system, every thread) a process and its live descendants have used so far, in
 * ms, from the kernel's own accounting (proc(5): utime and stime are fields 14 and 15). Worker
 * processes (IMAGEGATE_WORKERS) are children of the gateway, so they count too.
 */
export function cpuMsOfTree(rootPid: number): number {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const fields = statFields(pid);
    if (fields !== null) parentOf.set(pid, Number(fields[1]));
  }
  const inTree = (pid: number): boolean => {
    for (let at: number | undefined = pid; at !== undefined && at > 1; at = parentOf.get(at)) if (at === rootPid) return true;
    return false;
  };
  let ticks = 0;
  for (const pid of parentOf.keys()) {
    if (!inTree(pid)) continue;
    const fields = statFields(pid);
    if (fields !== null) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}
