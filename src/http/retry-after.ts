/**
 * Reads how long an upstream asked us to wait: `retry-after-ms` (OpenAI, Azure) first, then
 * `retry-after` as seconds or an HTTP date (RFC 9110 §10.2.3). Undefined when absent or garbled.
 */
export function retryAfterMs(headers: Readonly<Record<string, string | string[] | undefined>>, nowMs: number = Date.now()): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = first(headers['retry-after'])?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
