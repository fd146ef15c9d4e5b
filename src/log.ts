import pino, { type Logger } from 'pino';
import { scrubSecrets } from './providers/shared/scrub-secrets.ts';

/**
 * The process logger. Credentials never reach it: auth headers are redacted by path, request
 * URLs are logged without their query string (signed links carry their signature there), and
 * every message, top-level text field and serialized error (message, stack, causes, fields) goes
 * through the credential scrubber, since error text may quote what an upstream echoed back.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["api-key"]',
        'req.headers["x-api-key"]',
        'req.headers["x-key"]',
        'req.headers.cookie',
        'headers.authorization',
        'headers["api-key"]',
        '*.apiKey',
        '*.signingSecret',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: { method?: string; url?: string; id?: string }) => ({
        id: req.id,
        method: req.method,
        url: stripQuery(req.url),
      }),
      err: (err: unknown) => scrubDeep(err instanceof Error ? pino.stdSerializers.err(err) : err, 0),
    },
    formatters: {
      log: (object) => {
        const scrubbed: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(object)) scrubbed[key] = typeof value === 'string' ? scrubSecrets(value) : value;
        return scrubbed;
      },
    },
    hooks: {
      logMethod(args, method) {
        // The message and its printf arguments.
        for (const [index, arg] of args.entries()) if (typeof arg === 'string') args[index] = scrubSecrets(arg);
        method.apply(this, args);
      },
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Serialized errors are plain data; causes and custom fields may nest a few levels. */
const MAX_DEPTH = 5;

function scrubDeep(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => scrubDeep(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrubDeep(item, depth + 1);
  return out;
}

function stripQuery(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : `${url.slice(0, queryAt)}?[redacted]`;
}
