/**
 * What `imagegate generate` shows while it works. On a terminal: one line on stderr, redrawn in
 * place with a spinner, what it waits for and the seconds so far, and a line per saved file.
 * Otherwise (a pipe, a log, a script): plain lines, each written once. Saved files go to stdout
 * as `saved PATH (SIZE)`, so a script can collect them (to stderr with `--json`, whose stdout is
 * the JSON alone); everything else goes to stderr.
 */
export interface Progress {
  begin(what: string): void;
  status(text: string): void;
  saved(file: string, bytes: number): void;
  done(summary: string): void;
  /** Stops redrawing (idempotent); the terminal line is cleared. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const REDRAW_MS = 100;
const CLEAR_LINE = '\r\x1b[2K';

export function startProgress(terminal: boolean, savedLines: NodeJS.WritableStream = process.stdout): Progress {
  return terminal ? terminalProgress() : plainProgress(savedLines);
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} kB`;
}

function plainProgress(savedLines: NodeJS.WritableStream): Progress {
  return {
    begin: (what) => process.stderr.write(`${what}\n`),
    status: (text) => process.stderr.write(`${text}\n`),
    saved: (file, bytes) => savedLines.write(`saved ${file} (${formatBytes(bytes)})\n`),
    done: (summary) => process.stderr.write(`${summary}\n`),
    stop: () => {},
  };
}

function terminalProgress(): Progress {
  let status = 'starting';
  let frame = 0;
  let startedAtMs = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const draw = (): void => {
    const seconds = ((performance.now() - startedAtMs) / 1000).toFixed(1);
    process.stderr.write(`${CLEAR_LINE}${FRAMES[frame % FRAMES.length] ?? ''} ${status} (${seconds} s)`);
    frame += 1;
  };
  const clear = (): void => {
    process.stderr.write(CLEAR_LINE);
  };
  return {
    begin: (what) => {
      process.stderr.write(`${what}\n`);
      startedAtMs = performance.now();
      timer = setInterval(draw, REDRAW_MS);
      draw();
    },
    status: (text) => {
      status = text;
      if (timer !== null) draw();
    },
    saved: (file, bytes) => {
      clear();
      process.stdout.write(`saved ${file} (${formatBytes(bytes)})\n`);
      if (timer !== null) draw();
    },
    done: (summary) => {
      if (timer !== null) clearInterval(timer);
      timer = null;
      clear();
      process.stderr.write(`✔ ${summary}\n`);
    },
    stop: () => {
      if (timer === null) return;
      clearInterval(timer);
      timer = null;
      clear();
    },
  };
}
