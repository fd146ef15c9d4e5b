import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isPublicAddress } from './address-policy.ts';

/** Every address a name resolves to, the way connections resolve it (`dns.lookup`); injectable for tests. */
export type ResolveAddresses = (hostname: string) => Promise<readonly string[]>;

export const lookupAddresses: ResolveAddresses = async (hostname) => (await lookup(hostname, { all: true })).map((entry) => entry.address);

/**
 * Why a URL the gateway is to call later can never be called: not http(s), sign-in details in
 * it, or no public address behind it. `not_public` covers an IP literal outside the public
 * ranges, `localhost`, a name resolving to such an address, and a name that does not resolve at
 * all, alike: telling those apart would let a client find out which internal names exist.
 */
export type TargetRefusal = 'scheme' | 'credentials' | 'not_public';

export interface TargetPolicy {
  /** Private, loopback and link-local targets are allowed (on-premise receivers, tests). */
  readonly allowPrivate: boolean;
  readonly resolve: ResolveAddresses;
  /** A lookup taking longer counts as not resolving. */
  readonly resolveTimeoutMs: number;
}

/**
 * Checks a URL against the address policy of `address-policy.ts` before it is accepted, or null
 * when it may be called. This is the early answer only: the connection itself goes through the
 * guarded agent (`guarded-agent.ts`), which checks the address actually connected to, so a name
 * that resolves elsewhere later (DNS rebinding) is still refused then.
 */
export async function targetRefusal(url: URL, policy: TargetPolicy): Promise<TargetRefusal | null> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'scheme';
  if (url.username !== '' || url.password !== '') return 'credentials';
  if (policy.allowPrivate) return null;
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (isIP(host) !== 0) return isPublicAddress(host) ? null : 'not_public';
  if (host === 'localhost' || host.endsWith('.localhost')) return 'not_public';
  const addresses = await resolveWithin(policy, host);
  return addresses.length > 0 && addresses.every(isPublicAddress) ? null : 'not_public';
}

/** The name's addresses, or none when it does not resolve (in time). */
async function resolveWithin(policy: TargetPolicy, host: string): Promise<readonly string[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<readonly string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), policy.resolveTimeoutMs);
  });
  try {
    return await Promise.race([policy.resolve(host).catch(() => []), late]);
  } finally {
    clearTimeout(timer);
  }
}
