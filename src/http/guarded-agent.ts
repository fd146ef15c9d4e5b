import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent } from 'undici';
import { isPublicAddress } from './address-policy.ts';

export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * An undici Agent whose every connection is checked at DNS-resolution time: the address actually
 * connected to must be public. Checking the resolved address, not the URL's host name, is what
 * defeats DNS rebinding and names that point at private ranges. A literal IP in the URL never goes
 * through lookup, so the caller checks those with `assertUrlAllowed` too.
 */
export function createGuardedAgent(options: { connectTimeoutMs: number }): Agent {
  const guardedLookup = (hostname: string, opts: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, []);
      const list = addresses;
      const blocked = list.find((entry) => !isPublicAddress(entry.address));
      if (blocked !== undefined || list.length === 0) {
        return callback(new BlockedAddressError(`${hostname} resolves to a non-public address`), []);
      }
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
  if (host === 'localhost' || host.endsWith('.localhost')) throw new BlockedAddressError(`${host} is not a public address`);
}
