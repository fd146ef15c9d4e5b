import type { FastifyInstance } from 'fastify';
import type { ChannelStatus, Router } from '../../routing/router.ts';

/**
 * `GET /admin/v1/channels`: each upstream channel's models, breaker, health and its recent
 * attempts' error rate and latency (this process's view; breakers opened by other replicas count).
 */
export function registerAdminChannelsRoute(app: FastifyInstance, deps: { router: Router; now: () => number }): void {
  app.get('/admin/v1/channels', async () => ({ object: 'list', data: deps.router.channelStatus().map((status) => describeChannel(status, deps.now())) }));
}

function describeChannel(status: ChannelStatus, nowMs: number) {
  const failures = status.recent.filter((o) => !o.ok);
  const latencies = status.recent.map((o) => o.latencyMs).sort((a, b) => a - b);
  const errorRate = status.recent.length === 0 ? null : failures.length / status.recent.length;
  const last = status.recent[status.recent.length - 1];
  return {
    id: status.id,
    object: 'channel',
    provider: status.provider,
    models: status.models,
    priority: status.priority,
    weight: status.weight,
    max_concurrency: status.maxConcurrency,
    health: health(status, errorRate),
    breaker: { state: status.openForMs > 0 && status.breaker === 'closed' ? 'open' : status.breaker, retry_after_ms: status.openForMs },
    recent: {
      attempts: status.recent.length,
      failures: failures.length,
      error_rate: errorRate,
      latency_ms: {
        avg: latencies.length === 0 ? null : Math.round(latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length),
        p50: percentile(latencies, 0.5),
        p95: percentile(latencies, 0.95),
      },
      last_attempt_at: last === undefined ? null : Math.floor(last.atMs / 1000),
      last_attempt_ago_s: last === undefined ? null : Math.max(0, Math.round((nowMs - last.atMs) / 1000)),
      last_error_code: failures[failures.length - 1]?.code ?? null,
    },
  };
}

/** `down` while the breaker refuses calls, `degraded` when half the recent attempts failed. */
function health(status: ChannelStatus, errorRate: number | null): 'ok' | 'degraded' | 'down' | 'probing' | 'idle' {
  if (status.breaker === 'open' || status.openForMs > 0) return 'down';
  if (status.breaker === 'half_open') return 'probing';
  if (errorRate === null) return 'idle';
  return errorRate >= 0.5 ? 'degraded' : 'ok';
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}
