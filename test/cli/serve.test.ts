import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `imagegate …` with the Node running this test (the pinned Node 24). */
function imagegate(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'src/main.ts'), ...args], {
    cwd: env['IMAGEGATE_DATA_DIR'] ?? ROOT,
    // No load balancer in tests to wait for: stop without the drain delay (test/cli/shutdown.test.ts tests it).
    env: { PATH: process.env['PATH'] ?? '', IMAGEGATE_DRAIN_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = imagegate(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

/** Waits until `predicate(stdout so far)` holds. */
async function waitFor(child: ChildProcess, predicate: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; output so far:\n${text}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (predicate(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    child.on('close', () => reject(new Error(`exited early; output:\n${text}`)));
  });
}

async function waitHealthy(base: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${base} did not become healthy`);
}

describe('the imagegate command', () => {
  const dirs: string[] = [];
  const freshDir = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-cli-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('serve: first start prints one key and a curl that works; SIGTERM lets an in-flight request finish', async () => {
    const dataDir = freshDir();
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const env = { IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_PORT: port, IMAGEGATE_LOG_LEVEL: 'warn' };
    const server = imagegate(['serve'], env);
    try {
      const banner = await waitFor(server, (text) => text.includes('Try it:') && text.includes('paper boat'));
      const key = /IMAGEGATE_KEY=(sk-ig-[A-Za-z0-9_-]+)/.exec(banner)?.[1];
      assert.ok(key !== undefined, banner);
      assert.match(banner, new RegExp(`curl -X POST http://127\\.0\\.0\\.1:${port}/v1/images/generations`));

      const base = `http://127.0.0.1:${port}`;
      const inFlight = fetch(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-image-1', prompt: 'a paper boat on calm water at sunrise', n: 4, quality: 'high' }),
      });
      await new Promise((resolve) => setTimeout(resolve, 150));
      server.kill('SIGTERM');
      const response = await inFlight;
      assert.equal(response.status, 200);
      const body = (await response.json()) as { data: unknown[] };
      assert.equal(body.data.length, 4);
      const code = await new Promise<number | null>((resolve) => server.on('close', resolve));
      assert.equal(code, 0);
    } finally {
      server.kill('SIGKILL');
    }

    // A second start finds the key and prints no new one.
    const again = imagegate(['serve'], env);
    let output = '';
    again.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitHealthy(`http://127.0.0.1:${port}`);
    } finally {
      again.kill('SIGTERM');
    }
    await new Promise((resolve) => again.on('close', resolve));
    assert.ok(!output.includes('IMAGEGATE_KEY='), output);
  });

  it('an async job accepted before a crash (kill -9) is finished after the restart', async () => {
    const dataDir = freshDir();
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const env = {
      IMAGEGATE_DATA_DIR: dataDir,
      IMAGEGATE_PORT: port,
      IMAGEGATE_LOG_LEVEL: 'warn',
      IMAGEGATE_JOB_LEASE_MS: '1000',
      IMAGEGATE_JOB_POLL_INTERVAL_MS: '50',
    };
    const base = `http://127.0.0.1:${port}`;
    const first = imagegate(['serve'], env);
    const banner = await waitFor(first, (text) => text.includes('IMAGEGATE_KEY='));
    const key = /IMAGEGATE_KEY=(sk-ig-[A-Za-z0-9_-]+)/.exec(banner)?.[1] ?? '';
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json', prefer: 'respond-async' };
    // A big job, so the crash lands while it runs.
    const accepted = await fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'gpt-image-2', prompt: 'a harbour at night', size: '3840x2160', quality: 'high', n: 4, output_format: 'jpeg' }),
    });
    assert.equal(accepted.status, 202);
    const { id } = (await accepted.json()) as { id: string };
    await new Promise((resolve) => setTimeout(resolve, 300));
    first.kill('SIGKILL');
    await new Promise((resolve) => first.on('close', resolve));

    const second = imagegate(['serve'], env);
    try {
      await waitHealthy(base);
      let status = 202;
      let body: { status?: string; data?: unknown[] } = {};
      for (let i = 0; i < 300 && status === 202; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const response = await fetch(`${base}/v1/images/generations/${id}`, { headers: { authorization: `Bearer ${key}` } });
        status = response.status;
        body = (await response.json()) as typeof body;
      }
      assert.equal(status, 200);
      assert.equal(body.status, 'succeeded');
      assert.equal(body.data?.length, 4);
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.on('close', resolve));
    }
  });

  it('serve with two workers: one banner, both serve, limits shared through Redis, SIGTERM stops all', async () => {
    const dataDir = freshDir();
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const prefix = `imagegate-test:${Math.random().toString(16).slice(2)}:`;
    const env = {
      IMAGEGATE_DATA_DIR: dataDir,
      IMAGEGATE_PORT: port,
      IMAGEGATE_LOG_LEVEL: 'warn',
      IMAGEGATE_WORKERS: '2',
      REDIS_URL: process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379',
      IMAGEGATE_REDIS_PREFIX: prefix,
    };
    const server = imagegate(['serve'], env);
    let output = '';
    server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitHealthy(`http://127.0.0.1:${port}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(output.match(/IMAGEGATE_KEY=/g)?.length, 1, output);
      const key = /IMAGEGATE_KEY=(sk-ig-[A-Za-z0-9_-]+)/.exec(output)?.[1] ?? '';
      const admin = /IMAGEGATE_ADMIN_KEY=(sk-ig-[A-Za-z0-9_-]+)/.exec(output)?.[1] ?? '';
      const created = await fetch(`http://127.0.0.1:${port}/admin/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'limited', requests_per_minute: 4 }),
      });
      const limited = ((await created.json()) as { key: string }).key;
      const statuses = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`http://127.0.0.1:${port}/v1/images/generations`, {
            method: 'POST',
            headers: { authorization: `Bearer ${limited}`, 'content-type': 'application/json', connection: 'close' },
            body: JSON.stringify({ model: 'dall-e-2', prompt: 'x', size: '256x256' }),
          }).then((r) => r.status),
        ),
      );
      assert.ok(statuses.filter((s) => s === 200).length <= 5, statuses.join(','));
      assert.ok(key.length > 10);
    } finally {
      server.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => server.on('close', resolve));
    assert.equal(code, 0);
  });

  it('keys create, list and revoke', async () => {
    const env = { IMAGEGATE_DATA_DIR: freshDir() };
    const created = await run(['keys', 'create', '--name', 'alice'], env);
    assert.equal(created.code, 0, created.stderr);
    const id = /created (key_[0-9a-f]+) \(alice\)/.exec(created.stdout)?.[1];
    assert.ok(id !== undefined, created.stdout);
    assert.match(created.stdout, /^sk-ig-/m);

    const listed = await run(['keys', 'list'], env);
    assert.match(listed.stdout, new RegExp(`${id}\\s+sk-ig-\\S+…\\s+user\\s+alice`));
    assert.ok(!listed.stdout.includes(created.stdout.split('\n')[1] ?? 'never'), 'list must not show the plaintext');

    const revoked = await run(['keys', 'revoke', id], env);
    assert.equal(revoked.code, 0);
    assert.match((await run(['keys', 'list'], env)).stdout, /revoked \d{4}-/);
    assert.equal((await run(['keys', 'revoke', 'key_nope'], env)).code, 1);
    assert.equal((await run(['keys', 'frobnicate'], env)).code, 2);
  });

  it('a bad setting fails at boot naming the field', async () => {
    const result = await run(['serve'], { IMAGEGATE_DATA_DIR: freshDir(), IMAGEGATE_PORT: 'eighty' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /server\.port/);
  });
});
