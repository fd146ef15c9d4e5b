import { createHash } from 'node:crypto';
import { GatewayError } from '../errors.ts';

/*
 * multipart/form-data as the images endpoints read it (contract notes §3, "Multipart field naming
 * actually sent by SDKs"). The api layer hands over @fastify/multipart's part iterator; it is
 * typed here structurally, so the contract does not depend on the web framework. Everything a
 * form carries is text or bytes: numbers arrive as "2", booleans as "true", and are coerced here,
 * strictly (no " 2", no "2.0", no "yes").
 */

/** One part of a form as @fastify/multipart yields it (only what is read here). */
export type SourcePart =
  | { readonly type: 'file'; readonly fieldname: string; readonly filename: string; readonly mimetype: string; toBuffer(): Promise<Buffer> }
  | { readonly type: 'field'; readonly fieldname: string; readonly value: unknown; readonly valueTruncated: boolean };

/** An uploaded file: its bytes, and what the client claimed about them (never trusted). */
export interface FormFile {
  readonly field: string;
  readonly filename: string;
  /** The part's Content-Type: the official Node client sends `application/octet-stream`. */
  readonly contentType: string;
  readonly bytes: Buffer;
}

export interface Form {
  /** Text fields by name, each value in arrival order. */
  readonly fields: ReadonlyMap<string, readonly string[]>;
  /** Files in arrival order. */
  readonly files: readonly FormFile[];
  /** A digest of every part, for `Idempotency-Key` fingerprints. */
  readonly digest: string;
}

export interface FormLimits {
  /** Largest single file accepted; larger is a 413 naming the part. */
  readonly maxFileBytes: number;
  /** Largest sum of all files (16 images of 50 MB each would otherwise all be buffered). */
  readonly maxTotalBytes: number;
  readonly maxFiles: number;
}

/**
 * Reads every part of a form into memory, within the limits. @fastify/multipart's own limit
 * errors (file too large, too many files or parts, prototype field names) and busboy's parse
 * errors become OpenAI-style 400/413 answers instead of framework errors.
 */
export async function readForm(parts: AsyncIterable<SourcePart>, limits: FormLimits): Promise<Form> {
  const fields = new Map<string, string[]>();
  const files: FormFile[] = [];
  const hash = createHash('sha256');
  let totalBytes = 0;
  let current = '';
  try {
    for await (const part of parts) {
      current = part.fieldname;
      if (part.type === 'field') {
        if (part.valueTruncated) {
          throw new GatewayError('invalid_value', `Invalid value for '${part.fieldname}': it is too long.`, { param: part.fieldname });
        }
        const value = typeof part.value === 'string' ? part.value : String(part.value);
        // As for JSON bodies (api/input-boundary.ts): no text with NUL goes further.
        if (value.includes('\u0000') || part.fieldname.includes('\u0000')) {
          const param = part.fieldname.replaceAll('\u0000', '\\u0000');
          throw new GatewayError('invalid_value', `Invalid value for '${param}': text may not contain NUL (\\u0000) characters.`, { param });
        }
        fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), value]);
        hash.update(`f\u0000${part.fieldname}\u0000${value}\u0000`);
        continue;
      }
      const bytes = await part.toBuffer();
      totalBytes += bytes.length;
      if (totalBytes > limits.maxTotalBytes) {
        throw new GatewayError('payload_too_large', `The uploaded files are larger than the ${formatBytes(limits.maxTotalBytes)} accepted in one request.`, {
          param: part.fieldname,
        });
      }
      files.push({ field: part.fieldname, filename: part.filename, contentType: part.mimetype, bytes });
      hash.update(`b\u0000${part.fieldname}\u0000${bytes.length}\u0000`).update(bytes);
    }
  } catch (err) {
    throw formError(err, current, limits);
  }
  return { fields, files, digest: hash.digest('hex') };
}

/** Busboy options matching `limits`: one file over the cap ends the read with a 413. */
export function busboyLimits(limits: FormLimits): { fileSize: number; files: number; fields: number; fieldSize: number; parts: number } {
  return {
    fileSize: limits.maxFileBytes,
    // One more than allowed, so "too many" is seen and answered rather than silently dropped.
    files: limits.maxFiles + 1,
    fields: 64,
    // A 32,000-character prompt is at most 128 KB of UTF-8.
    fieldSize: 256 * 1024,
    parts: limits.maxFiles + 66,
  };
}

function formError(err: unknown, field: string, limits: FormLimits): unknown {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: unknown }).code;
  const param = field === '' ? null : field;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new GatewayError('payload_too_large', `Invalid file '${field}': it is larger than the ${formatBytes(limits.maxFileBytes)} accepted per file.`, {
        param,
      });
    case 'FST_FILES_LIMIT':
      return new GatewayError('invalid_value', `Too many files: send at most ${limits.maxFiles} (the images and the mask).`, { param: 'image' });
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new GatewayError('invalid_value', 'The form has too many fields.', { param: null });
    case 'FST_PROTO_VIOLATION':
      return new GatewayError('unknown_parameter', `Unknown parameter: '${field}'.`, { param });
    default:
      break;
  }
  // busboy: "Unexpected end of form", "Malformed part header", "Boundary not found" …
  const message = err instanceof Error ? err.message : String(err);
  return new GatewayError('invalid_value', `The multipart/form-data body could not be read: ${message}.`, { cause: err });
}

/** `1.5 MB`, `512 KB`: limits as a person reads them (binary units, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${trim(bytes / (1024 * 1024))} MB`;
  if (bytes >= 1024) return `${trim(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

function trim(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** The one value of a text field, or `undefined`; a field sent twice is refused. */
export function singleField(form: Form, name: string): string | undefined {
  const values = form.fields.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) {
    throw new GatewayError('invalid_value', `Invalid value for '${name}': it was sent ${values.length} times; send it once.`, { param: name });
  }
  return values[0];
}

const WHOLE = /^-?(0|[1-9][0-9]*)$/;
const DECIMAL = /^-?[0-9]*\.[0-9]+$/;

/** A form field that must be a whole number: "2" is 2; "2.5" and "two" are refused. */
export function formInteger(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (WHOLE.test(text)) {
    const value = Number(text);
    if (Number.isSafeInteger(value)) return value;
  }
  if (DECIMAL.test(text)) {
    throw new GatewayError('invalid_value', `Invalid value ${text} for '${name}': must be a whole number.`, { param: name });
  }
  throw new GatewayError('invalid_type', `Invalid type for '${name}': expected an integer, but got the text '${clip(text)}'.`, { param: name });
}

/** A form field that must be a boolean: exactly "true" or "false" (what SDKs send). */
export function formBoolean(name: string, text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new GatewayError('invalid_type', `Invalid type for '${name}': expected a boolean ('true' or 'false'), but got the text '${clip(text)}'.`, {
    param: name,
  });
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
