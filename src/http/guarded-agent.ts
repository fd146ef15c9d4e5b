import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent } from 'undici';
import { isPublicAddress } from './address-policy.ts';

export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** How names are resolved: `dns.lookup` with `all: true`; injectable for tests. */
export type Resolve = (hostname: string, options: { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * One refusal for every name that does not lead to a public address, whether it resolved to a
 * private one or did not resolve at all: answering the two differently would let a client map the
 * gateway's internal DNS (which names exist) through the edit URLs it sends.
 */
function notPublic(hostname: string, cause?: unknown): BlockedAddressError {
  return new BlockedAddressError(`${hostname} does not resolve to a public address`, cause === undefined ? undefined : { cause });
}

/**
 * An undici Agent whose every connection is checked at DNS-resolution time: the address actually
 * connected to must be public. Checking the resolved address, not the URL's host name, is what
 * defeats DNS rebinding and names that point at private ranges. A literal IP in the URL never goes
 * through lookup, so the caller checks those with `assertUrlAllowed` too.
 */
export function createGuardedAgent(options: { connectTimeoutMs: number; resolve?: Resolve }): Agent {
  const resolve: Resolve = options.resolve ?? ((hostname, opts, callback) => dnsLookup(hostname, opts, callback));
  const guardedLookup = (hostname: string, opts: object, callback: LookupCallback): void => {
    resolve(hostname, { ...opts, all: true }, (err, list) => {
      if (err !== null) return callback(notPublic(hostname, err), []);
      const blocked = list.find((entry) => !isPublicAddress(entry.address));
      if (blocked !== undefined || list.length === 0) return callback(notPublic(hostname), []);
      const wantsAll = (opts as { all?: boolean }).all === true;
      const first = list[0] as LookupAddress;
      return wantsAll ? callback(null, list) : callback(null, first.address, first.family);
    });
  };
  return new Agent({ connect: { lookup: guardedLookup, timeout: options.connectTimeoutMs } });
}

/** Refuses URLs that are not http(s), carry credentials, or name a non-public IP literally. */
export function assertUrlAllowed(url: URL, allowPrivate: boolean): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BlockedAddressError(`only http and https URLs are fetched, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') throw new BlockedAddressError('URLs with credentials are not fetched');
  if (allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && !isPublicAddress(host)) throw new BlockedAddressError(`${host} is not a public address`);
  if (host === 'localhost' || host.endsWith('.localhost')) throw notPublic(host);
}
