import { parseArgs } from 'node:util';
import { Catalog, MODELS } from '../catalog/index.ts';
import type { Config } from '../config.ts';
import { sqlitePath } from '../config.ts';
import { type KeySettingsInput, validateKeySettings } from '../contract/key-settings.ts';
import { openDatabase } from '../db/database.ts';
import { KeysRepo } from '../db/keys-repo.ts';
import { migrateToLatest } from '../db/migrations.ts';
import { GatewayError } from '../errors.ts';
import { describeKey } from '../keys/describe-key.ts';

const USAGE = `usage:
  imagegate keys create [options]        create a key; its plaintext is printed once
  imagegate keys list                    list keys
  imagegate keys show ID                 one key with its settings
  imagegate keys update ID [options]     change settings (a value of "none" clears a limit)
  imagegate keys revoke ID|PREFIX        revoke a key at once
options:
  --name NAME  --budget USD  --requests-per-minute N  --images-per-minute N  --max-concurrent N
  --models ID,ID,...  --expires-at ISO-DATE|UNIX-SECONDS  --meta KEY=VALUE (repeatable)  --admin (create an admin key)`;

const OPTIONS = {
  name: { type: 'string' },
  budget: { type: 'string' },
  'requests-per-minute': { type: 'string' },
  'images-per-minute': { type: 'string' },
  'max-concurrent': { type: 'string' },
  models: { type: 'string' },
  'expires-at': { type: 'string' },
  meta: { type: 'string', multiple: true },
  admin: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** `imagegate keys …`. Returns the process exit code. */
export async function keysCommand(config: Config, args: readonly string[]): Promise<number> {
  const [action, ...rest] = args;
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...rest], options: OPTIONS, allowPositionals: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const { db, dialect } = openDatabase({ url: config.database.url, sqlitePath: sqlitePath(config) });
  const catalog = new Catalog(MODELS);
  try {
    await migrateToLatest(db, dialect);
    const keys = new KeysRepo(db);
    const print = (row: Parameters<typeof describeKey>[0]) => process.stdout.write(`${JSON.stringify(describeKey(row), null, 2)}\n`);
    switch (action) {
      case 'create': {
        const settings = validateKeySettings(flagsToInput(values), catalog);
        const created = await keys.create({ ...settings, role: values.admin === true ? 'admin' : 'user' });
        process.stdout.write(`created ${created.row.id} (${created.row.name})\n${created.plaintext}\n`);
        return 0;
      }
      case 'list': {
        for (const row of await keys.list()) {
          const state = row.revoked_at_ms === null ? '' : `  revoked ${new Date(row.revoked_at_ms).toISOString()}`;
          process.stdout.write(`${row.id}  ${row.display_prefix}  ${row.role}  ${row.name}  created ${new Date(row.created_at_ms).toISOString()}${state}\n`);
        }
        return 0;
      }
      case 'show':
      case 'update': {
        const id = positionals[0];
        if (id === undefined) break;
        const row = action === 'show' ? await keys.get(id) : await keys.update(id, validateKeySettings(flagsToInput(values), catalog));
        if (row === undefined) {
          process.stderr.write(`no key '${id}'\n`);
          return 1;
        }
        print(row);
        return 0;
      }
      case 'revoke': {
        const target = positionals[0];
        if (target === undefined) break;
        const revoked = await keys.revoke(target);
        if (revoked === undefined) {
          process.stderr.write(`no key matches '${target}'\n`);
          return 1;
        }
        process.stdout.write(`revoked ${revoked.id} (${revoked.display_prefix})\n`);
        return 0;
      }
      default:
        break;
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } catch (err) {
    if (err instanceof GatewayError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    await db.destroy();
  }
}

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };

/** CLI flags → the admin API's JSON shape, so both go through one validation. */
function flagsToInput(flags: Flags): KeySettingsInput {
  const input: Record<string, unknown> = {};
  const num = (text: string | undefined, field: string): void => {
    if (text === undefined) return;
    input[field] = text === 'none' ? null : Number(text);
  };
  if (flags.name !== undefined) input['name'] = flags.name;
  num(flags.budget, 'budget_usd');
  num(flags['requests-per-minute'], 'requests_per_minute');
  num(flags['images-per-minute'], 'images_per_minute');
  num(flags['max-concurrent'], 'max_concurrent');
  if (flags.models !== undefined) input['allowed_models'] = flags.models === 'none' ? null : flags.models.split(',').map((m) => m.trim());
  const expires = flags['expires-at'];
  if (expires !== undefined) {
    input['expires_at'] = expires === 'none' ? null : /^\d+$/.test(expires) ? Number(expires) : Math.floor(Date.parse(expires) / 1000);
  }
  if (flags.meta !== undefined) {
    input['metadata'] = Object.fromEntries(flags.meta.map((pair) => [pair.split('=')[0] ?? '', pair.split('=').slice(1).join('=')]));
  }
  return input as KeySettingsInput;
}
