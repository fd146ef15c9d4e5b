import { UsageError } from './command-line.ts';

/**
 * Values of command-line flags, checked where they are typed so the message names the flag, says
 * what it takes and shows what was given. Number('abc') is NaN and Number('') is 0, so text is
 * matched against a plain decimal pattern before it becomes a number.
 */

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;
const NEGATIVE_DECIMAL = /^-(\d+(\.\d*)?|\.\d+)$/;
const WHOLE = /^\d+$/;

/** The admin API's ceiling for a budget (contract/key-settings.ts). */
export const MAX_BUDGET_USD = 1_000_000_000;
/** Per-minute limits and concurrency are 32-bit integer columns in PostgreSQL. */
export const MAX_COUNT = 2_147_483_647;

/** What a number is missing, for the message: the range it broke, or nothing when it is no number. */
function rangeHint(text: string, value: number, min: number, max: number): string {
  if (value > max) return `, at most ${max}`;
  if (value < min || NEGATIVE_DECIMAL.test(text)) return `, ${min} or more`;
  return '';
}

/** A budget in US dollars, 0 or more (a zero budget lets a key spend nothing). */
export function parseUsd(flag: string, text: string): number {
  const usd = DECIMAL.test(text) ? Number(text) : Number.NaN;
  if (Number.isNaN(usd) || usd > MAX_BUDGET_USD) {
    throw new UsageError(`${flag}: expected a number of US dollars such as 5 or 0.50${rangeHint(text, usd, 0, MAX_BUDGET_USD)}, got '${text}'`);
  }
  return usd;
}

/** A whole number of `unit`, 1 or more: `parseCount('--images-per-minute', text, 'images per minute', 10)`. */
export function parseCount(flag: string, text: string, unit: string, example: number): number {
  const count = WHOLE.test(text) ? Number(text) : Number.NaN;
  if (Number.isNaN(count) || count < 1 || count > MAX_COUNT) {
    throw new UsageError(`${flag}: expected a whole number of ${unit} such as ${example}${rangeHint(text, count, 1, MAX_COUNT)}, got '${text}'`);
  }
  return count;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
/** The last second a JavaScript Date can hold (±8.64e15 ms). */
const MAX_UNIX_SECONDS = 8_640_000_000_000;

/**
 * A moment as unix seconds: an ISO date (midnight UTC), an ISO date-time with its zone (a time
 * without one would depend on the machine's time zone), or unix seconds.
 */
export function parseMoment(flag: string, text: string): number {
  const fail = (): never => {
    throw new UsageError(
      `${flag}: expected a date such as 2027-01-01, a date and time with its zone such as 2027-01-01T12:00:00Z, or unix seconds such as 1798761600, got '${text}'`,
    );
  };
  if (WHOLE.test(text)) {
    const seconds = Number(text);
    return seconds <= MAX_UNIX_SECONDS ? seconds : fail();
  }
  const parts = ISO_DATE.exec(text) ?? ISO_DATE_TIME.exec(text);
  if (parts === null) return fail();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return fail();
  // Date.parse rolls 2027-02-30 over to March 2; the calendar date must come back unchanged.
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return fail();
  return Math.floor(ms / 1000);
}

/** `KEY=VALUE` with a non-empty key; the value may contain `=` and may be empty. */
export function parsePair(flag: string, text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`${flag}: expected KEY=VALUE such as project=web, got '${text}'`);
  return [text.slice(0, at), text.slice(at + 1)];
}

/** A comma-separated list without empty entries: `dall-e-3,gpt-image-1`. */
export function parseList(flag: string, text: string, example: string): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new UsageError(`${flag}: expected a comma-separated list such as ${example}, got '${text}'`);
  return items;
}
