import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';

/** The secret an operator sets must be at least this long; the config schema says the same. */
const MIN_CONFIGURED_CHARS = 32;
/** A generated secret: 32 random bytes, as long as the HMAC-SHA256 output. */
const GENERATED_BYTES = 32;
/** What a secret file must hold: at least 32 bytes as hex (we write exactly 64 digits). */
const SECRET_FILE_HEX = /^(?:[0-9a-f]{2}){32,}$/i;

/** The name of the generated secret inside the data folder. */
export const SIGNING_SECRET_FILE = 'signing-secret';

/**
 * The HMAC key for signed file links. An operator-set secret wins (replicas behind one
 * load balancer must share it). Otherwise the key lives in `<dataDir>/signing-secret`, made on
 * first start, so links survive restarts. Fails at boot, with a message naming the fix, rather
 * than signing with a weak or damaged key.
 */
export async function loadOrCreateSigningSecret(dataDir: string, configured: string | undefined): Promise<Buffer> {
  if (configured !== undefined) {
    if (configured.length < MIN_CONFIGURED_CHARS) {
      throw new Error(`storage.signingSecret (IMAGEGATE_SIGNING_SECRET) must be at least ${MIN_CONFIGURED_CHARS} characters`);
    }
    return Buffer.from(configured, 'utf8');
  }
  const filePath = path.join(dataDir, SIGNING_SECRET_FILE);
  const existing = await readSecretFile(filePath);
  if (existing !== null) return existing;
  await mkdir(dataDir, { recursive: true });
  await createSecretFile(filePath);
  // Read back rather than trusting what we wrote: another process may have created it first.
  const created = await readSecretFile(filePath);
  if (created === null) throw new Error(`${filePath} vanished right after it was created`);
  return created;
}

async function readSecretFile(filePath: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return null;
    throw err;
  }
  // Trailing whitespace is forgiven: an operator may have written the file with an editor.
  const hex = text.trim();
  if (!SECRET_FILE_HEX.test(hex)) {
    throw new Error(
      `${filePath} does not hold a signing secret (at least 64 hex digits); fix or delete it (existing links stop working), or set IMAGEGATE_SIGNING_SECRET`,
    );
  }
  return Buffer.from(hex, 'hex');
}

/**
 * Writes a fresh secret to a private temporary file, then hard-links it to its final name. The
 * link is atomic and fails if the name exists, so two processes starting at once never
 * overwrite each other's secret and no reader ever sees a half-written file. The loser keeps
 * the winner's secret.
 */
async function createSecretFile(filePath: string): Promise<void> {
  const temp = `${filePath}.${randomBytes(8).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(`${randomBytes(GENERATED_BYTES).toString('hex')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, filePath);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) {
      // Some file systems (certain network and FUSE mounts) have no hard links.
      throw new Error(`cannot create ${filePath}; set IMAGEGATE_SIGNING_SECRET instead`, { cause: err });
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
