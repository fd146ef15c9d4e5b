// Throughput, CPU and latency of imagegate in front of a fake OpenAI upstream that answers with
// ~1.4 MB of b64_json (a different image each time), beside the same upstream hit directly and
// through a bare byte pipe, all in one run so the ratios hold on a noisy machine. Then memory with
// 1,000 requests held open by a slow upstream whose answers all arrive in the same second. Every
// server is a child process on 127.0.0.1; everything stops by itself.
//
// CPU per request is each server's own CPU time (user + system, all threads and worker processes,
// from /proc) over the measured run, divided by the requests it answered: the load generator runs
// on the same cores, so throughput alone would charge the gateway for the client's work too.
//
// Knobs: BENCH_DURATION_S (10), BENCH_ROUNDS (2), BENCH_SERIAL_REQUESTS (200), BENCH_WORKERS=0 (skip
// the two-worker targets), BENCH_SKIP_HOLD=1, BENCH_SAME_IMAGE=1 (the fake repeats one image, as
// before 2026-12-07), BENCH_GATEWAY_NODE_OPTIONS (e.g. --cpu-prof), BENCH_MEM_TRACE=1 (heap and
// external memory every half second of the memory run). `npm run bench -- memory` runs only that.
import { constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client, Pool } from 'undici';
import { cpuMsOfTree, rssMb, startNode, stop } from './processes.ts';

const CONNECTIONS = 16;
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 10);
/** Rounds over every target, interleaved; each figure is the median of its rounds. */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
/** Requests sent one after another on one connection for the latency at rest. */
const SERIAL_REQUESTS = Number(process.env['BENCH_SERIAL_REQUESTS'] ?? 200);
const HOLD_REQUESTS = 1000;
const HOLD_DELAY_MS = 30_000;
/** NODE_OPTIONS for the gateway only, e.g. BENCH_GATEWAY_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const GATEWAY_NODE_OPTIONS = process.env['BENCH_GATEWAY_NODE_OPTIONS'] ?? '';

interface Target {
  readonly name: string;
  readonly port: number;
  readonly body: string;
  readonly headers: Record<string, string>;
  /** The server process whose CPU this target is charged (the gateway, the pipe, the fake). */
  readonly pid: number;
}

interface Measured {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpuMsPerRequest: number;
  /** Median latency of requests sent one at a time on one connection. */
  readonly serialP50Ms: number;
}

async function measure(target: Target): Promise<Measured> {
  const url = `http://127.0.0.1:${target.port}/v1/images/generations`;
  const headers = { 'content-type': 'application/json', ...target.headers };
  const run = (seconds: number) => autocannon({ url, method: 'POST', body: target.body, headers, connections: CONNECTIONS, duration: seconds });
  await run(2); // warm-up: JIT, connection pools, page cache
  const cpuBefore = cpuMsOfTree(target.pid);
  const result = await run(DURATION_S);
  const cpuMs = cpuMsOfTree(target.pid) - cpuBefore;
  return {
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    cpuMsPerRequest: cpuMs / Math.max(1, result.requests.total),
    serialP50Ms: await serialP50(target, headers),
  };
}

/** Sub-millisecond latency at rest: one connection, one request at a time, whole body read. */
async function serialP50(target: Target, headers: Record<string, string>): Promise<number> {
  const client = new Client(`http://127.0.0.1:${target.port}`, { pipelining: 1 });
  const latenciesMs: number[] = [];
  try {
    for (let i = 0; i < SERIAL_REQUESTS + 20; i++) {
      const started = performance.now();
      const response = await client.request({ path: '/v1/images/generations', method: 'POST', headers, body: target.body });
      await response.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      if (i >= 20) latenciesMs.push(performance.now() - started); // the first 20 warm up
    }
  } finally {
    await client.close();
  }
  return median(latenciesMs);
}

/**
 * The least any gateway that stores what it answers pays per image on this disk: one durable write
 * (O_DSYNC, as the blob store does) of an image the size of the fake's, and its rename into place.
 * Wall time (the latency it adds) and this process's CPU time, medians over `count` images.
 */
async function storeFloor(dir: string, imageBytes: number, count = 100): Promise<StoreFloor> {
  const bytes = randomBytes(imageBytes);
  const wallMs: number[] = [];
  let cpuBefore = process.cpuUsage();
  for (let i = -10; i < count; i++) {
    if (i === 0) cpuBefore = process.cpuUsage(); // the first ten warm up
    const started = performance.now();
    const temp = path.join(dir, `.floor-${i}.tmp`);
    const handle = await open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DSYNC, 0o600);
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.close();
    await rename(temp, path.join(dir, `floor-${i}.png`));
    if (i >= 0) wallMs.push(performance.now() - started);
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { imageBytes, p50Ms: median(wallMs), cpuMs: (cpu.user + cpu.system) / 1000 / count };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 === 1 ? (sorted[Math.floor(middle)] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
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
  // Started as `npm start` starts it: the executable, with the V8 flags of its shebang.
  const started = await startNode(
    'bin/imagegate.mjs',
    ['serve'],
    {
      IMAGEGATE_DATA_DIR: dataDir,
      IMAGEGATE_PORT: String(port),
      IMAGEGATE_LOG_LEVEL: 'warn',
      IMAGEGATE_DRAIN_DELAY_MS: '0',
      IMAGEGATE_CHANNELS: JSON.stringify(channels),
      ...(GATEWAY_NODE_OPTIONS === '' ? {} : { NODE_OPTIONS: GATEWAY_NODE_OPTIONS }),
      ...extraEnv,
    },
    /IMAGEGATE_KEY=/,
    { executable: true },
  );
  const key = /IMAGEGATE_KEY=(\S+)/.exec(started.line)?.[1] ?? '';
  return { key, pid: started.child.pid ?? 0, stop: () => stop(started.child) };
}

export async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-bench-'));
  const fake = await startNode('bench/servers/fake-openai.ts', ['0'], { BENCH_SAME_IMAGE: process.env['BENCH_SAME_IMAGE'] ?? '0' }, /"port"/);
  const { port: fakePort, bodyBytes } = JSON.parse(fake.line) as { port: number; bodyBytes: number };
  const pipe = await startNode('bench/servers/bare-pipe.ts', [String(fakePort)], {}, /"port"/);
  const pipePort = (JSON.parse(pipe.line) as { port: number }).port;
  const gatewayPort = 18_000 + Math.floor(Math.random() * 2000);
  const gateway = await startGateway(fakePort, dataDir, gatewayPort);
  const withWorkers = process.env['BENCH_WORKERS'] !== '0';
  // The same with two worker processes (IMAGEGATE_WORKERS=2 needs Redis: the machine's, on loopback).
  const workers = withWorkers
    ? await startGateway(fakePort, path.join(dataDir, 'workers'), gatewayPort + 1, {
        IMAGEGATE_WORKERS: '2',
        REDIS_URL: process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379',
        IMAGEGATE_REDIS_PREFIX: `imagegate-bench:${process.pid}:`,
      })
    : null;
  const ask = (extra: object) => JSON.stringify({ model: 'gpt-image-1', prompt: 'a paper boat on calm water at sunrise', quality: 'low', ...extra });
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const fakePid = fake.child.pid ?? 0;
  const targets: Target[] = [
    { name: 'direct to the fake', port: fakePort, body: ask({}), headers: {}, pid: fakePid },
    { name: 'bare byte pipe', port: pipePort, body: ask({}), headers: {}, pid: pipe.child.pid ?? 0 },
    { name: 'imagegate b64_json', port: gatewayPort, body: ask({}), headers: auth(gateway.key), pid: gateway.pid },
    { name: 'imagegate url', port: gatewayPort, body: ask({ response_format: 'url' }), headers: auth(gateway.key), pid: gateway.pid },
    ...(workers === null
      ? []
      : [
          { name: '2 workers b64_json', port: gatewayPort + 1, body: ask({}), headers: auth(workers.key), pid: workers.pid },
          { name: '2 workers url', port: gatewayPort + 1, body: ask({ response_format: 'url' }), headers: auth(workers.key), pid: workers.pid },
        ]),
  ];
  const rounds = targets.map((): Measured[] => []);
  // A 1024x1024 PNG of the fake's size: 3/4 of its base64, which is nearly the whole body.
  const floor = await storeFloor(dataDir, Math.floor((bodyBytes * 3) / 4));
  try {
    console.log(
      `upstream answer: ${(bodyBytes / 1e6).toFixed(2)} MB of JSON, ${process.env['BENCH_SAME_IMAGE'] === '1' ? 'the same image each time (stored once)' : 'a different image each time'}; ${CONNECTIONS} connections, ${DURATION_S} s per target, ` +
        `${ROUNDS} rounds (medians); latency at rest over ${SERIAL_REQUESTS} requests on 1 connection\n`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, target] of targets.entries()) rounds[index]?.push(await measure(target));
    }
  } finally {
    await gateway.stop();
    await workers?.stop();
    await stop(pipe.child);
    await stop(fake.child);
  }
  const results = targets.map((target, index) => {
    const of = (pick: (m: Measured) => number) => median((rounds[index] ?? []).map(pick));
    return {
      name: target.name,
      rps: of((m) => m.rps),
      p50Ms: of((m) => m.p50Ms),
      p99Ms: of((m) => m.p99Ms),
      errors: (rounds[index] ?? []).reduce((sum, m) => sum + m.errors, 0),
      cpuMsPerRequest: of((m) => m.cpuMsPerRequest),
      serialP50Ms: of((m) => m.serialP50Ms),
    };
  });
  printTable(results, floor);
  if (process.env['BENCH_SKIP_HOLD'] !== '1') await holdOpen(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
}

type Result = Measured & { readonly name: string };

interface StoreFloor {
  readonly imageBytes: number;
  readonly p50Ms: number;
  readonly cpuMs: number;
}

function printTable(results: readonly Result[], floor: StoreFloor): void {
  const pipe = results.find((r) => r.name === 'bare byte pipe');
  if (pipe === undefined) return;
  const columns = ['target', 'req/s', '× pipe', 'CPU ms/req', 'CPU × pipe', 'p50 ms', 'p99 ms', 'p50 1 conn', 'added', 'errors'];
  console.log(`| ${columns.join(' | ')} |`);
  console.log(
    `|---|${columns
      .slice(1)
      .map(() => '---:')
      .join('|')}|`,
  );
  for (const r of results) {
    const cells = [
      r.name,
      r.rps.toFixed(0),
      (r.rps / pipe.rps).toFixed(2),
      r.cpuMsPerRequest.toFixed(2),
      (r.cpuMsPerRequest / pipe.cpuMsPerRequest).toFixed(2),
      r.p50Ms.toFixed(0),
      r.p99Ms.toFixed(0),
      r.serialP50Ms.toFixed(2),
      (r.serialP50Ms - pipe.serialP50Ms).toFixed(2),
      String(r.errors),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log(
    `\nstore floor on this disk (one O_DSYNC write + rename of a ${(floor.imageBytes / 1e6).toFixed(2)} MB image): ` +
      `p50 ${floor.p50Ms.toFixed(2)} ms, CPU ${floor.cpuMs.toFixed(2)} ms (${(floor.cpuMs / pipe.cpuMsPerRequest).toFixed(2)}× the pipe's per request)`,
  );
  console.log('\ntargets (issue 13): CPU ≤ 2× pipe, throughput ≥ 0.8× pipe, p50 added at 1 connection ≤ 2 ms, 0 errors');
  for (const r of results.filter((result) => result.name.startsWith('imagegate'))) {
    const checks = [
      `CPU ${(r.cpuMsPerRequest / pipe.cpuMsPerRequest).toFixed(2)}× ${r.cpuMsPerRequest <= 2 * pipe.cpuMsPerRequest ? 'met' : 'NOT met'}`,
      `throughput ${(r.rps / pipe.rps).toFixed(2)}× ${r.rps >= 0.8 * pipe.rps ? 'met' : 'NOT met'}`,
      `added ${(r.serialP50Ms - pipe.serialP50Ms).toFixed(2)} ms ${r.serialP50Ms - pipe.serialP50Ms <= 2 ? 'met' : 'NOT met'} (${(r.serialP50Ms - pipe.serialP50Ms - floor.p50Ms).toFixed(2)} ms beyond the store floor)`,
      `errors ${r.errors}`,
    ];
    console.log(`${r.name}: ${checks.join('; ')}`);
  }
}

/**
 * 1,000 concurrent requests held open ~30 s by a slow upstream, whose 1.5 MB answers then all
 * arrive within the same second: RSS while held and at the peak, and errors.
 */
/** `npm run bench -- memory`: only the 1,000 held requests. */
export async function holdOpenOnly(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-bench-'));
  await holdOpen(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
}

async function holdOpen(dataDir: string): Promise<void> {
  const fake = await startNode('bench/servers/fake-openai.ts', [String(HOLD_DELAY_MS)], {}, /"port"/);
  const fakePort = (JSON.parse(fake.line) as { port: number }).port;
  const gatewayPort = 20_000 + Math.floor(Math.random() * 2000);
  const gateway = await startGateway(
    fakePort,
    path.join(dataDir, 'hold'),
    gatewayPort,
    process.env['BENCH_MEM_TRACE'] === '1' ? { IMAGEGATE_METRICS_PUBLIC: 'true' } : {},
  );
  const started = Date.now();
  const pool = new Pool(`http://127.0.0.1:${gatewayPort}`, { connections: HOLD_REQUESTS, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const idleRss = rssMb(gateway.pid);
  let peakRss = idleRss;
  let heldRss = idleRss;
  const memTrace = process.env['BENCH_MEM_TRACE'] === '1';
  let traceTick = 0;
  const sampler = setInterval(() => {
    const now = rssMb(gateway.pid);
    if (memTrace && traceTick++ % 5 === 0)
      void fetch(`http://127.0.0.1:${gatewayPort}/metrics`)
        .then(async (r) => r.text())
        .then((t) => {
          const pick = (name: string) => (Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(t)?.[1] ?? 0) / 1e6).toFixed(0);
          console.log(
            `t=${((Date.now() - started) / 1000).toFixed(1)} rss=${now.toFixed(0)} heapUsed=${pick('nodejs_heap_size_used_bytes')} heapTotal=${pick('nodejs_heap_size_total_bytes')} external=${pick('nodejs_external_memory_bytes')}`,
          );
        })
        .catch(() => undefined);
    peakRss = Math.max(peakRss, now);
    // While every request waits on the upstream (before the answers arrive together).
    if (Date.now() - started < HOLD_DELAY_MS - 2000) heldRss = Math.max(heldRss, now);
  }, 100);
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
          await response.body.dump({ limit: Number.MAX_SAFE_INTEGER });
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
      `${ok} ok, ${failed} errors; gateway RSS idle ${idleRss.toFixed(0)} MB, while held ${heldRss.toFixed(0)} MB (target ≤ 300), ` +
      `peak ${peakRss.toFixed(0)} MB (target ≤ 500; when all 1,000 answers of 1.5 MB arrive in the same second)`,
  );
}

if (import.meta.main) await main();
