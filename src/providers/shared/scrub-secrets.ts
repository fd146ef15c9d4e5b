import { GatewayError } from '../../errors.ts';

/*
 * Upstream text (error messages, stream error events, bodies quoted in causes) is passed to
 * clients and logs, and some upstreams echo what they were sent: "Incorrect API key provided …
 * Received Authorization: Bearer sk-…". Everything an upstream says is scrubbed of the channel's
 * own secrets (exact values) and of anything shaped like a credential (patterns) before it goes
 * on. The router does it once for every adapter's error (Router#classify); the logger runs the
 * patterns over every line's message and error (src/log.ts).
 */

const REDACTED = '[redacted]';

/** Secrets shorter than this are not searched for: they would blank out ordinary words. */
const MIN_SECRET_CHARS = 4;

/** Option names of a channel whose values are credentials (the `options` map is free-form). */
const SECRET_OPTION_NAME = /key|secret|token|password|passwd|credential|signature/i;

/**
 * Credential shapes, each replaced wholesale or after its label. Character classes stop at
 * quotes, backslashes and whitespace, so a match never eats the JSON around it (the logger runs
 * these over values that end up in JSON lines).
 */
const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // RFC 6750 bearer credentials, whatever the token looks like.
  [/\b(Bearer)\s+(?!\[redacted\])[^\s"'\\,;]+/gi, `$1 ${REDACTED}`],
  // An Authorization header quoted in text: its scheme and credentials (Basic, Token, …).
  [/\b(authorization["']?\s*[:=]\s*["']?)(?!Bearer\b)(?!\[redacted\])[^\s"'\\,;]+(?:\s+(?!\[redacted\])[^\s"'\\,;]+)?/gi, `$1${REDACTED}`],
  // OpenAI-style keys (sk-…, sk-proj-…) and ours (sk-ig-…).
  [/\bsk-[A-Za-z0-9_-]{6,}/g, REDACTED],
  // Google API keys.
  [/\bAIza[0-9A-Za-z_-]{20,}/g, REDACTED],
  // AWS access key ids (long-term AKIA, temporary ASIA).
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, REDACTED],
  // Other vendors' prefixed tokens: Replicate, Hugging Face, GitHub, GitLab, Slack.
  [/\b(?:r8_|hf_|gh[pousr]_|github_pat_|glpat-|xox[abprs]-)[A-Za-z0-9_-]{16,}/g, REDACTED],
  // JSON Web Tokens.
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // Credentials in a URL: scheme://user:password@host.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'\\]+@/gi, `$1${REDACTED}@`],
];

/**
 * A labelled value: `key=…`, `api-key: …`, `token=…`, `"api_key": "…"`, `X-Goog-Api-Key: …`. Only
 * values that look like credentials go (a digit in eight or more characters, or 24 or more), so
 * "Missing key: 'response_format'" keeps its meaning.
 */
const LABELLED =
  /\b((?:x-(?:goog-)?)?(?:api[-_]?key|access[-_]?key(?:[-_]?id)?|secret[-_]?(?:access[-_]?)?key|client[-_]?secret|key|token|access[-_]?token|auth[-_]?token|refresh[-_]?token|secret|password|passwd|sig|signature)["']?\s*[:=]\s*["']?)([A-Za-z0-9+/=_.~-]{8,})/gi;

/** `text` with every credential-shaped substring replaced by `[redacted]`, and the given secrets too. */
export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length < MIN_SECRET_CHARS) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) {
      if (out.includes(form)) out = out.split(form).join(REDACTED);
    }
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out.replace(LABELLED, (match: string, label: string, value: string) => (looksLikeCredential(value) ? `${label}${REDACTED}` : match));
}

function looksLikeCredential(value: string): boolean {
  return value.length >= 24 || /\d/.test(value);
}

/**
 * What a channel holds that must never be repeated: its API key, credentials in its base URL, and
 * option values whose names say they are secret.
 */
export function channelSecrets(channel: {
  readonly apiKey: string | null;
  readonly baseUrl: string;
  readonly options: Readonly<Record<string, unknown>>;
}): string[] {
  const secrets: string[] = [];
  if (channel.apiKey !== null) secrets.push(channel.apiKey);
  if (URL.canParse(channel.baseUrl)) {
    const url = new URL(channel.baseUrl);
    for (const part of [url.username, url.password]) if (part !== '') secrets.push(part, decodeURIComponentSafe(part));
  }
  for (const [name, value] of Object.entries(channel.options)) if (SECRET_OPTION_NAME.test(name) && typeof value === 'string') secrets.push(value);
  return [...new Set(secrets)];
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The same error with its message and cause scrubbed; code, param, retryability and Retry-After
 * are kept, so the router treats it exactly as the adapter meant it.
 */
export function scrubGatewayError(err: GatewayError, secrets: readonly string[]): GatewayError {
  return scrubGatewayErrorAt(err, secrets, 0);
}

function scrubGatewayErrorAt(err: GatewayError, secrets: readonly string[], depth: number): GatewayError {
  const cause = scrubCause(err.cause, secrets, depth + 1);
  const scrubbed = new GatewayError(err.code, scrubSecrets(err.message, secrets), {
    param: err.param,
    retryable: err.retryable,
    ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
    ...(cause === undefined ? {} : { cause }),
  });
  // Keep the adapter's stack (where it was thrown), scrubbed: it starts with the message.
  if (err.stack !== undefined) scrubbed.stack = scrubSecrets(err.stack, secrets);
  return scrubbed;
}

/** How deep a chain of causes is followed; deeper ones are dropped. */
const MAX_CAUSE_DEPTH = 4;

/**
 * A cause as the log will show it: errors rebuilt with scrubbed message and stack (their name and
 * a string `code` kept, for diagnosis), strings scrubbed, anything else dropped (an arbitrary
 * object may hold upstream text in any field).
 */
function scrubCause(cause: unknown, secrets: readonly string[], depth: number): unknown {
  if (cause === undefined || cause === null || depth >= MAX_CAUSE_DEPTH) return undefined;
  if (typeof cause === 'string') return scrubSecrets(cause, secrets);
  if (typeof cause === 'number' || typeof cause === 'boolean') return cause;
  if (!(cause instanceof Error)) return undefined;
  if (cause instanceof GatewayError) return scrubGatewayErrorAt(cause, secrets, depth);
  const inner = scrubCause(cause.cause, secrets, depth + 1);
  const copy = new Error(scrubSecrets(cause.message, secrets), inner === undefined ? undefined : { cause: inner });
  copy.name = cause.name;
  if (cause.stack !== undefined) copy.stack = scrubSecrets(cause.stack, secrets);
  const code: unknown = Reflect.get(cause, 'code');
  if (typeof code === 'string') Reflect.set(copy, 'code', code);
  return copy;
}
