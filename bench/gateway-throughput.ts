// Throughput and latency of imagegate in front of a fake OpenAI upstream that answers with
// ~1.4 MB of b64_json, beside the same upstream hit directly and through a bare byte pipe, all in
// one run so the ratios hold on a noisy machine. Then memory with 1,000 requests held open by a
// slow upstream. Every server is a child process on 127.0.0.1; everything stops by itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { rssMb, startNode, stop } from './processes.ts';

const CONNECTIONS = 16;
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 10);
const HOLD_REQUESTS = 1000;
const HOLD_DELAY_MS = 30_000;

interface Result {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(name: string, url: string, body: string, headers: Record<string, string>): Promise<Result> {
  const run = (seconds: number) =>
    autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, connections: CONNECTIONS, duration: seconds });
  await run(2); // warm-up: JIT, connection pools, page cache
  const result = await run(DURATION_S);
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

async function startGateway(
  upstreamPort: number,
  dataDir: string,
  port: number,
  extraEnv: Record<string, string> = {},
): Promise<{ stop: () => Promise<void>; key: string; pid: number }> {
  const channels = [
    {
      id: 'bench',
      provider: 'openai',
      baseUrl: `http://127.0.0.1:${upstreamPort}/v1`,
      apiKey: 'sk-bench',
      models: { 'gpt-image-1': 'gpt-image-1' },
      maxConcurrency: 4000,
      timeoutMs: 120_000,
      local: true,
    },
  ];
  const started = await startNode(
    'src/main.ts',
    ['serve'],
    { IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_PORT: String(port), IMAGEGATE_LOG_LEVEL: 'warn', IMAGEGATE_CHANNELS: JSON.stringify(channels), ...extraEnv },
    /IMAGEGATE_KEY=/,
  );
  const key = /IMAGEGATE_KEY=(\S+)/.exec(started.line)?.[1] ?? '';
  return { key, pid: started.child.pid ?? 0, stop: () => stop(started.child) };
}

export async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-bench-'));
  const fake = await startNode('bench/servers/fake-openai.ts', ['0'], {}, /"port"/);
  const { port: fakePort, bodyBytes } = JSON.parse(fake.line) as { port: number; bodyBytes: number };
  const pipe = await startNode('bench/servers/bare-pipe.ts', [String(fakePort)], {}, /"port"/);
  const pipePort = (JSON.parse(pipe.line) as { port: number }).port;
  const gatewayPort = 18_000 + Math.floor(Math.random() * 2000);
  const gateway = await startGateway(fakePort, dataDir, gatewayPort);
  const auth = { authorization: `Bearer ${gateway.key}` };
  const ask = (extra: object) => JSON.stringify({ model: 'gpt-image-1', prompt: 'a paper boat on calm water at sunrise', quality: 'low', ...extra });
  const results: Result[] = [];
  try {
    console.log(`upstream answer: ${(bodyBytes / 1e6).toFixed(2)} MB of JSON; ${CONNECTIONS} connections, ${DURATION_S} s per target\n`);
    results.push(await load('direct to the fake', `http://127.0.0.1:${fakePort}/v1/images/generations`, ask({}), {}));
    results.push(await load('bare byte pipe', `http://127.0.0.1:${pipePort}/v1/images/generations`, ask({}), {}));
    results.push(await load('imagegate b64_json', `http://127.0.0.1:${gatewayPort}/v1/images/generations`, ask({}), auth));
    results.push(await load('imagegate url', `http://127.0.0.1:${gatewayPort}/v1/images/generations`, ask({ response_format: 'url' }), auth));
  } finally {
    await gateway.stop();
  }
  // The same with two worker processes (IMAGEGATE_WORKERS=2 needs Redis: the machine's, on loopback).
  const workersPort = gatewayPort + 1;
  const workers = await startGateway(fakePort, path.join(dataDir, 'workers'), workersPort, {
    IMAGEGATE_WORKERS: '2',
    REDIS_URL: process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379',
    IMAGEGATE_REDIS_PREFIX: `imagegate-bench:${process.pid}:`,
  });
  try {
    const workerAuth = { authorization: `Bearer ${workers.key}` };
    results.push(await load('2 workers b64_json', `http://127.0.0.1:${workersPort}/v1/images/generations`, ask({}), workerAuth));
    results.push(await load('2 workers url', `http://127.0.0.1:${workersPort}/v1/images/generations`, ask({ response_format: 'url' }), workerAuth));
  } finally {
    await workers.stop();
    await stop(pipe.child);
    await stop(fake.child);
  }
  const [direct, bare] = results;
  console.log('target               req/s   p50 ms  p99 ms  errors  ×direct  ×pipe');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(20)} ${r.rps.toFixed(1).padStart(6)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.errors).padStart(6)}  ${(r.rps / (direct?.rps ?? 1)).toFixed(2).padStart(7)}  ${(r.rps / (bare?.rps ?? 1)).toFixed(2).padStart(5)}`,
    );
  }
  for (const r of results.slice(2)) console.log(`${r.name}: p50 added over the pipe ${(r.p50 - (bare?.p50 ?? 0)).toFixed(1)} ms`);

  if (process.env['BENCH_SKIP_HOLD'] !== '1') await holdOpen(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
}

/** 1,000 concurrent requests held open ~30 s by a slow upstream: peak RSS and errors. */
async function holdOpen(dataDir: string): Promise<void> {
  const fake = await startNode('bench/servers/fake-openai.ts', [String(HOLD_DELAY_MS)], {}, /"port"/);
  const fakePort = (JSON.parse(fake.line) as { port: number }).port;
  const gatewayPort = 20_000 + Math.floor(Math.random() * 2000);
  const gateway = await startGateway(fakePort, path.join(dataDir, 'hold'), gatewayPort);
  const started = Date.now();
  const pool = new Pool(`http://127.0.0.1:${gatewayPort}`, { connections: HOLD_REQUESTS, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const idleRss = rssMb(gateway.pid);
  let peakRss = idleRss;
  let heldRss = idleRss;
  const sampler = setInterval(() => {
    const now = rssMb(gateway.pid);
    peakRss = Math.max(peakRss, now);
    // While every request waits on the upstream (before the answers arrive together).
    if (Date.now() - started < HOLD_DELAY_MS - 2000) heldRss = Math.max(heldRss, now);
  }, 250);
  let ok = 0;
  let failed = 0;
  try {
    await Promise.all(
      Array.from({ length: HOLD_REQUESTS }, async () => {
        try {
          const response = await pool.request({
            path: '/v1/images/generations',
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.key}` },
            body: JSON.stringify({ model: 'gpt-image-1', prompt: 'slow upstream', quality: 'low' }),
          });
          await response.body.dump();
          if (response.statusCode === 200) ok += 1;
          else failed += 1;
        } catch {
          failed += 1;
        }
      }),
    );
  } finally {
    clearInterval(sampler);
    await pool.close();
    await gateway.stop();
    await stop(fake.child);
  }
  console.log(
    `\nheld open: ${HOLD_REQUESTS} concurrent requests, upstream delay ${HOLD_DELAY_MS / 1000} s, done in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
      `${ok} ok, ${failed} errors; gateway RSS idle ${idleRss.toFixed(0)} MB, while held ${heldRss.toFixed(0)} MB, ` +
      `peak ${peakRss.toFixed(0)} MB (when all 1,000 answers of 1.5 MB arrive in the same moment)`,
  );
}

if (import.meta.main) await main();
