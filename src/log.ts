import pino, { type Logger } from 'pino';

/**
 * The process logger. Credentials never reach it: auth headers are redacted by path, and request
 * URLs are logged without their query string (signed links carry their signature there).
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
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

function stripQuery(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : `${url.slice(0, queryAt)}?[redacted]`;
}
