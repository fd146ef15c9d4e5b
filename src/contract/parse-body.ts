import { type z } from 'zod';
import { GatewayError } from '../errors.ts';

/**
 * Turns a zod failure into the OpenAI error for its first issue: the field as `param`, and a
 * message that names the field and what it takes. Unknown keys become `unknown_parameter`, as
 * OpenAI answers them.
 */
export function zodIssueToError(error: z.ZodError, body?: unknown): GatewayError {
  const issue = error.issues[0];
  if (issue === undefined) return new GatewayError('invalid_value', 'Invalid request body.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    return new GatewayError('unknown_parameter', `Unknown parameter: '${key}'.`, { param: key });
  }
  const param = issue.path.map(String).join('.') || null;
  const field = param === null ? 'the request body' : `'${param}'`;
  if (issue.code === 'invalid_type') {
    const value = valueAt(body, issue.path);
    // zod reports 1.5 for an integer field as a type error; to a caller it is a wrong value.
    if (issue.expected === 'int' && typeof value === 'number') {
      return new GatewayError('invalid_value', `Invalid value ${value} for ${field}: ${issue.message}.`, { param });
    }
    if (value === undefined) {
      return new GatewayError('missing_required_parameter', `Missing required parameter: ${field}.`, { param });
    }
    return new GatewayError('invalid_type', `Invalid type for ${field}: expected ${issue.expected}, but got ${describe(valueAt(body, issue.path))}.`, {
      param,
    });
  }
  return new GatewayError('invalid_value', `Invalid value for ${field}: ${issue.message}.`, { param });
}

/** zod 4 does not carry the offending input in its issues; read it from the body by path. */
function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = body;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
