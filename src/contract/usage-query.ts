import { GatewayError } from '../errors.ts';

const DAY_MS = 86_400_000;

/**
 * `from`/`to` for usage reports: unix seconds or a `YYYY-MM-DD` day (UTC). `to` is exclusive for
 * seconds and inclusive for a day. Defaults: the last 30 days.
 */
export function parseUsageRange(query: Record<string, unknown>, nowMs: number): { fromMs: number; toMs: number } {
  const toMs = parseBound(query['to'], 'to', true) ?? nowMs + 1;
  const fromMs = parseBound(query['from'], 'from', false) ?? toMs - 30 * DAY_MS;
  if (fromMs >= toMs) throw new GatewayError('invalid_value', "'from' must be before 'to'.", { param: 'from' });
  return { fromMs, toMs };
}

function parseBound(value: unknown, param: string, endOfDay: boolean): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' && /^\d{1,12}$/.test(value)) return Number(value) * 1000;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    if (!Number.isNaN(ms)) return endOfDay ? ms + DAY_MS : ms;
  }
  throw new GatewayError('invalid_value', `Invalid value for '${param}': give unix seconds or a YYYY-MM-DD day.`, { param });
}
