import { Catalog, MODELS } from '../catalog/index.ts';
import type { Config } from '../config.ts';
import { sqlitePath } from '../config.ts';
import { type KeySettingsInput, validateKeySettings } from '../contract/key-settings.ts';
import { openDatabase } from '../db/database.ts';
import { KeysRepo } from '../db/keys-repo.ts';
import { migrateToLatest } from '../db/migrations.ts';
import { OrganizationsRepo } from '../db/organizations-repo.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { GatewayError } from '../errors.ts';
import { describeKey } from '../keys/describe-key.ts';
import { parseCommandLine, printUsage, UsageError, wantsHelp } from './command-line.ts';
import { parseCount, parseList, parseMoment, parsePair, parseUsd } from './flag-values.ts';

export const KEYS_USAGE = `usage: imagegate keys <command> (imagegate keys <command> --help for its options)
  create [options]        create a key; its plaintext is printed once
  list                    list keys
  show ID                 one key with its settings
  update ID [options]     change settings
  revoke ID|PREFIX        revoke a key at once`;

const SETTINGS_HELP = `  --name NAME                  a name to recognise the key by
  --budget USD                 the most the key may spend, in US dollars (5, 0.50)
  --requests-per-minute N      requests per minute, 1 or more
  --images-per-minute N        images per minute, 1 or more
  --max-concurrent N           generations running at once, 1 or more
  --models ID,ID,...           the models the key may use
  --expires-at WHEN            2027-01-01, 2027-01-01T12:00:00Z or unix seconds
  --meta KEY=VALUE             metadata; repeatable (--meta none clears it)
  --org ID                     the organisation the key belongs to (--org none: no organisation)`;

const SETTING_OPTIONS = {
  name: { type: 'string' },
  budget: { type: 'string' },
  'requests-per-minute': { type: 'string' },
  'images-per-minute': { type: 'string' },
  'max-concurrent': { type: 'string' },
  models: { type: 'string' },
  'expires-at': { type: 'string' },
  meta: { type: 'string', multiple: true },
  org: { type: 'string' },
} as const;

const CREATE = {
  usage: `usage: imagegate keys create [options]
Creates a key and prints its plaintext once (only a hash is stored).
${SETTINGS_HELP}
  --admin                      an admin key: it manages keys over the admin API and cannot generate`,
  options: { ...SETTING_OPTIONS, admin: { type: 'boolean' } },
  positionals: [],
} as const;

const UPDATE = {
  usage: `usage: imagegate keys update ID [options]
Changes the given settings and leaves the others; the value none clears a limit (--budget none).
${SETTINGS_HELP}`,
  options: SETTING_OPTIONS,
  positionals: ['ID'],
} as const;

const LIST = {
  usage: 'usage: imagegate keys list\nLists every key: id, display prefix, role, name, when it was created or revoked.',
  options: {},
  positionals: [],
} as const;
const SHOW = {
  usage: 'usage: imagegate keys show ID\nPrints one key with its settings as JSON (never its plaintext).',
  options: {},
  positionals: ['ID'],
} as const;
const REVOKE = {
  usage: 'usage: imagegate keys revoke ID|PREFIX\nRevokes the key with this id or display prefix; it stops working at once.',
  options: {},
  positionals: ['ID|PREFIX'],
} as const;

/**
 * `imagegate keys …`. Returns the process exit code; mistakes in the call throw `UsageError`.
 * Arguments are checked before the config is loaded or the database opened, so `--help` and
 * typos work on a machine with a broken config and never create a database.
 */
export async function keysCommand(args: readonly string[], loadConfig: () => Config): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined) throw new UsageError('missing command', KEYS_USAGE);
  if (action === '--help' || action === '-h' || action === 'help') return printUsage(KEYS_USAGE);
  switch (action) {
    case 'create': {
      if (wantsHelp(rest)) return printUsage(CREATE.usage);
      const line = parseCommandLine(CREATE, rest);
      const input = settingsInput(line);
      const role = line.flag('admin') ? 'admin' : 'user';
      return withKeys(loadConfig, input, async (keys, settings) => {
        const created = await keys.create({ ...settings, role });
        process.stdout.write(`created ${created.row.id} (${created.row.name})\n${created.plaintext}\n`);
        return 0;
      });
    }
    case 'list': {
      if (wantsHelp(rest)) return printUsage(LIST.usage);
      parseCommandLine(LIST, rest);
      return withKeys(loadConfig, {}, async (keys) => {
        for (const row of await keys.list()) {
          const state = row.revoked_at_ms === null ? '' : `  revoked ${new Date(row.revoked_at_ms).toISOString()}`;
          process.stdout.write(`${row.id}  ${row.display_prefix}  ${row.role}  ${row.name}  created ${new Date(row.created_at_ms).toISOString()}${state}\n`);
        }
        return 0;
      });
    }
    case 'show': {
      if (wantsHelp(rest)) return printUsage(SHOW.usage);
      const [id = ''] = parseCommandLine(SHOW, rest).positionals;
      return withKeys(loadConfig, {}, async (keys) => printKey(id, await keys.get(id)));
    }
    case 'update': {
      if (wantsHelp(rest)) return printUsage(UPDATE.usage);
      const line = parseCommandLine(UPDATE, rest);
      if (!line.anyOption) throw new UsageError('nothing to change: give at least one setting', UPDATE.usage);
      const [id = ''] = line.positionals;
      const input = settingsInput(line);
      return withKeys(loadConfig, input, async (keys, settings) => printKey(id, await keys.update(id, settings)));
    }
    case 'revoke': {
      if (wantsHelp(rest)) return printUsage(REVOKE.usage);
      const [target = ''] = parseCommandLine(REVOKE, rest).positionals;
      return withKeys(loadConfig, {}, async (keys) => {
        const revoked = await keys.revoke(target);
        if (revoked === undefined) {
          process.stderr.write(`no key matches '${target}'\n`);
          return 1;
        }
        process.stdout.write(`revoked ${revoked.id} (${revoked.display_prefix})\n`);
        return 0;
      });
    }
    default:
      throw new UsageError(`unknown command 'keys ${action}'`, KEYS_USAGE);
  }
}

function printKey(id: string, row: ApiKeyRow | undefined): number {
  if (row === undefined) {
    process.stderr.write(`no key '${id}'\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(describeKey(row), null, 2)}\n`);
  return 0;
}

/**
 * Checks the settings against the catalog (the admin API's validation, so both accept the same
 * keys), then opens and migrates the configured database and runs `work` with it.
 */
async function withKeys(
  loadConfig: () => Config,
  input: KeySettingsInput,
  work: (keys: KeysRepo, settings: ReturnType<typeof validateKeySettings>) => Promise<number>,
): Promise<number> {
  const config = loadConfig();
  let settings: ReturnType<typeof validateKeySettings>;
  try {
    settings = validateKeySettings(input, new Catalog(MODELS));
  } catch (err) {
    if (err instanceof GatewayError) throw new UsageError(err.message);
    throw err;
  }
  const { db, dialect } = openDatabase({ url: config.database.url, sqlitePath: sqlitePath(config) });
  try {
    await migrateToLatest(db, dialect);
    if (settings.organizationId !== undefined && settings.organizationId !== null) {
      // The admin API refuses an unknown organisation the same way.
      if ((await new OrganizationsRepo(db).get(settings.organizationId)) === undefined)
        throw new UsageError(`--org: no organisation '${settings.organizationId}'`);
    }
    return await work(new KeysRepo(db), settings);
  } finally {
    await db.destroy();
  }
}

/** What `settingsInput` reads of a parsed `keys create` or `keys update`. */
interface SettingFlags {
  string(name: keyof typeof SETTING_OPTIONS): string | undefined;
  strings(name: 'meta'): readonly string[];
}

/** CLI flags → the admin API's JSON shape, each value checked here so the message names the flag. */
function settingsInput(line: SettingFlags): KeySettingsInput {
  // `none` clears a limit (keys update); on create it is the same as leaving the flag out.
  const value = <T>(name: keyof typeof SETTING_OPTIONS, parse: (flag: string, text: string) => T): T | null | undefined => {
    const text = line.string(name);
    if (text === undefined) return undefined;
    return text === 'none' ? null : parse(`--${name}`, text);
  };
  const input: { -readonly [K in keyof KeySettingsInput]: KeySettingsInput[K] } = {};
  const name = line.string('name');
  if (name !== undefined) input.name = name;
  const budget = value('budget', parseUsd);
  if (budget !== undefined) input.budget_usd = budget;
  const requests = value('requests-per-minute', (flag, text) => parseCount(flag, text, 'requests per minute', 60));
  if (requests !== undefined) input.requests_per_minute = requests;
  const images = value('images-per-minute', (flag, text) => parseCount(flag, text, 'images per minute', 10));
  if (images !== undefined) input.images_per_minute = images;
  const concurrent = value('max-concurrent', (flag, text) => parseCount(flag, text, 'generations at once', 2));
  if (concurrent !== undefined) input.max_concurrent = concurrent;
  const models = value('models', (flag, text) => parseList(flag, text, 'dall-e-3,gpt-image-1'));
  if (models !== undefined) input.allowed_models = models;
  const expires = value('expires-at', parseMoment);
  if (expires !== undefined) input.expires_at = expires;
  const org = value('org', (_flag, text) => text);
  if (org !== undefined) input.organization_id = org;
  const meta = line.strings('meta');
  if (meta.length === 1 && meta[0] === 'none') input.metadata = null;
  else if (meta.length > 0) input.metadata = Object.fromEntries(meta.map((pair) => parsePair('--meta', pair)));
  return input;
}
