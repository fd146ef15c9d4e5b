// `npm run bench -- soak`: a bounded fault soak. One channel to the fake OpenAI upstream fails 20%
// of calls at random (5xx, 429 with Retry-After, truncated bodies, bad base64, stalls); concurrent
// clients make requests with the official client; then the ledger is audited. Prints requests,
// client-visible errors by status, images delivered, and the audit (Σ charges = images × price,
// open holds, charges without images, images without charges). Loopback only; bounded in count
// (SOAK_REQUESTS, default 2000) and time (SOAK_SECONDS, default 300); stops by itself.
import { auditLedger } from '../src/ledger/audit.ts';
import type { Fault } from '../test/fakes/fake-server.ts';
import { startOpenAIFake } from '../test/fakes/openai-fake.ts';
import { startGateway } from '../test/support/gateway.ts';

const REQUESTS = Number(process.env['SOAK_REQUESTS'] ?? 2000);
const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 300);
const CLIENTS = Number(process.env['SOAK_CLIENTS'] ?? 8);
const FAULT_RATE = 0.2;
/** dall-e-2 at 256x256: a flat $0.016 an image, so the audit can check Σ charges exactly. */
const PRICE_MICRO_USD = 16_000;

/** Deterministic, so two runs meet the same faults (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FAULTS: readonly Fault[] = [
  { kind: 'status', status: 500 },
  { kind: 'status', status: 503 },
  { kind: 'rate_limit', retryAfterSeconds: 1 },
  { kind: 'truncate' },
  { kind: 'bad_base64' },
  { kind: 'stall' },
];

export async function main(): Promise<void> {
  const upstream = await startOpenAIFake();
  upstream.record = false;
  const next = random(20261201);
  const injected = new Map<string, number>();
  upstream.pickFaults(() => {
    if (next() >= FAULT_RATE) return { kind: 'ok' };
    const fault = FAULTS[Math.floor(next() * FAULTS.length)] ?? { kind: 'ok' };
    injected.set(
      fault.kind === 'status' ? `status ${fault.status}` : fault.kind,
      (injected.get(fault.kind === 'status' ? `status ${fault.status}` : fault.kind) ?? 0) + 1,
    );
    return fault;
  });
  const channels = [
    {
      id: 'flaky',
      provider: 'openai',
      baseUrl: `${upstream.url}/v1`,
      apiKey: 'sk-upstream-test',
      models: { 'dall-e-2': 'dall-e-2' },
      local: true,
      timeoutMs: 5000,
    },
  ];
  const gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_LOG_LEVEL: 'silent' });
  const client = gateway.client();
  const errors = new Map<string, number>();
  let started = 0;
  let succeeded = 0;
  let images = 0;
  const stopAtMs = Date.now() + SECONDS * 1000;
  const startedAtMs = Date.now();
  const worker = async (): Promise<void> => {
    while (started < REQUESTS && Date.now() < stopAtMs) {
      started += 1;
      try {
        const answer = await client.images.generate({ model: 'dall-e-2', prompt: 'a kite over a stormy sea', size: '256x256', response_format: 'b64_json' });
        succeeded += 1;
        images += answer.data?.length ?? 0;
      } catch (err) {
        const status = typeof err === 'object' && err !== null && 'status' in err ? String(err.status) : 'network';
        errors.set(status, (errors.get(status) ?? 0) + 1);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CLIENTS }, worker));
    const seconds = (Date.now() - startedAtMs) / 1000;
    const failed = started - succeeded;
    const nowMs = gateway.deps.now();
    const audit = await auditLedger(gateway.deps.db, { nowMs, imagesSinceMs: 0 });
    console.log(`upstream faults injected (${Math.round(FAULT_RATE * 100)}% of calls): ${[...injected].map(([kind, count]) => `${kind} ${count}`).join(', ')}`);
    console.log(
      `requests ${started} in ${seconds.toFixed(1)} s with ${CLIENTS} clients; succeeded ${succeeded}; client-visible errors ${failed} (${((failed / Math.max(1, started)) * 100).toFixed(2)}%)${failed > 0 ? `: ${[...errors].map(([status, count]) => `${status} ×${count}`).join(', ')}` : ''}`,
    );
    console.log(`images delivered ${images}; charged ${audit.chargedImages} in ${audit.charges} charges, $${(audit.chargedMicroUsd / 1e6).toFixed(6)}`);
    const priceOk = audit.chargedMicroUsd === audit.chargedImages * PRICE_MICRO_USD && audit.chargedImages === images;
    console.log(
      `audit: Σ charges = delivered images × $0.016: ${priceOk ? 'yes' : 'NO'}; violations ${audit.violations.length}${audit.violations.length > 0 ? `: ${audit.violations.map((v) => v.rule).join(', ')}` : ' (open holds 0, charges without images 0, images without charges 0)'}`,
    );
    if (!priceOk || audit.violations.length > 0) process.exitCode = 1;
  } finally {
    await gateway.close();
    await upstream.close();
  }
}
