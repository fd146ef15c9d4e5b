import { parseArgs } from 'node:util';

/**
 * A mistake in how a command was called. `main.ts` prints the message (and the command's usage,
 * when the mistake is in the shape of the call rather than in one value) and exits with 2, the
 * conventional code for bad usage, so scripts can tell it from a failure.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly usage: string | undefined;

  constructor(message: string, usage?: string) {
    super(message);
    this.usage = usage;
  }
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** A string option that may be given more than once (`--meta a=1 --meta b=2`). */
  readonly multiple?: boolean;
}

/** One command (or subcommand): its usage text, the options it takes and how many positionals. */
export interface CommandSpec<O extends Readonly<Record<string, OptionSpec>>> {
  readonly usage: string;
  readonly options: O;
  /** Names of the positional arguments, all required (`['ID']`). */
  readonly positionals: readonly string[];
}

type StringOption<O> = { [K in keyof O]: O[K] extends { type: 'string' } ? K : never }[keyof O] & string;
type BooleanOption<O> = { [K in keyof O]: O[K] extends { type: 'boolean' } ? K : never }[keyof O] & string;

export interface ParsedCommandLine<O> {
  readonly positionals: readonly string[];
  /** The value of a string option (the last one, if given twice), or undefined. */
  string(name: StringOption<O>): string | undefined;
  /** Every value of a repeatable string option, in order. */
  strings(name: StringOption<O>): readonly string[];
  flag(name: BooleanOption<O>): boolean;
  /** Whether any option at all was given. */
  readonly anyOption: boolean;
}

/** Prints a usage text asked for with `--help`; returns the exit code, 0. */
export function printUsage(usage: string): number {
  process.stdout.write(`${usage}\n`);
  return 0;
}

/** Whether `--help` or `-h` appears before a `--` terminator. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/**
 * Parses a command's arguments against its spec; every mistake is a `UsageError` naming it.
 * node:util's strict mode is not used because it refuses an option value that starts with a dash
 * (`--budget -1`) with "argument is ambiguous", where we want to say what a budget must be.
 */
export function parseCommandLine<O extends Readonly<Record<string, OptionSpec>>>(spec: CommandSpec<O>, args: readonly string[]): ParsedCommandLine<O> {
  const fail = (message: string): never => {
    throw new UsageError(message, spec.usage);
  };
  const { tokens } = parseArgs({ args: [...args], options: spec.options, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, string[]>();
  const booleans = new Set<string>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const option = Object.hasOwn(spec.options, token.name) ? spec.options[token.name] : undefined;
    if (option === undefined) return fail(`unknown option '${token.rawName}'`);
    if (option.type === 'boolean') {
      if (token.value !== undefined) fail(`${token.rawName} takes no value, got '${token.value}'`);
      booleans.add(token.name);
      continue;
    }
    // A value that is the next option (`--budget --name x`) means the value was forgotten.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      return fail(`${token.rawName} needs a value`);
    }
    const previous = values.get(token.name) ?? [];
    values.set(token.name, option.multiple === true ? [...previous, token.value] : [token.value]);
  }
  if (positionals.length < spec.positionals.length) fail(`missing ${spec.positionals.slice(positionals.length).join(' ')}`);
  if (positionals.length > spec.positionals.length) fail(`unexpected argument '${positionals[spec.positionals.length] ?? ''}'`);
  return {
    positionals,
    string: (name) => values.get(name)?.at(-1),
    strings: (name) => values.get(name) ?? [],
    flag: (name) => booleans.has(name),
    anyOption: values.size > 0 || booleans.size > 0,
  };
}
