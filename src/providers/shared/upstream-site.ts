import { isIP } from 'node:net';

/*
 * Asynchronous upstreams answer a submit with the URL to poll (BFL's `polling_url`, Replicate's
 * `urls.get`, fal's `status_url`), and the gateway sends the channel's key with every poll. A URL
 * the upstream names at will must therefore stay on the upstream's own site, or a tampered or
 * hostile answer would make the gateway hand its key to any host. BFL answers with regional hosts
 * (`api.eu2.bfl.ai`, `gateway.bfl.ai`) for a call to `api.bfl.ai` (provider notes §4, §11), so the
 * host need not be the one called: a host of the same registrable domain is the upstream's.
 */

/**
 * Second-level labels under which country-code domains are registered (`example.co.uk`,
 * `example.com.au`). Without a public-suffix list this keeps `co.uk` itself from counting as a
 * site; operators whose base URL sits on a shared hosting domain (one tenant per subdomain)
 * should know that its sibling subdomains count as the same site.
 */
const COUNTRY_SECOND_LEVELS = new Set(['ac', 'co', 'com', 'edu', 'go', 'gob', 'gov', 'gv', 'ltd', 'mil', 'ne', 'net', 'nic', 'or', 'org', 'plc', 'sch']);

/**
 * The registrable domain of a host name (`api.eu.bfl.ai` → `bfl.ai`, `api.example.co.uk` →
 * `example.co.uk`); an IP address or a single-label name (`localhost`) is its own and only site.
 */
export function registrableDomain(hostname: string): string {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return host;
  const labels = host.split('.');
  if (labels.length <= 2) return host;
  const tld = labels[labels.length - 1] ?? '';
  const second = labels[labels.length - 2] ?? '';
  const keep = tld.length === 2 && COUNTRY_SECOND_LEVELS.has(second) ? 3 : 2;
  return labels.slice(-keep).join('.');
}

/**
 * Whether `url` may be called with the channel's credentials: an http(s) URL without embedded
 * credentials, on `baseUrl`'s host or a host of its registrable domain, and never a downgrade from
 * https to http. Ports are not compared: the host decides whose server it is.
 */
export function isOnUpstreamSite(url: string, baseUrl: string): boolean {
  if (!URL.canParse(url) || !URL.canParse(baseUrl)) return false;
  const target = new URL(url);
  const base = new URL(baseUrl);
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && base.protocol === 'http:')) return false;
  if (target.username !== '' || target.password !== '') return false;
  const host = target.hostname.toLowerCase().replace(/\.$/, '');
  const baseHost = base.hostname.toLowerCase().replace(/\.$/, '');
  if (host === baseHost) return true;
  const site = registrableDomain(baseHost);
  // An address or a one-label name has no subdomains: only the exact host matched above counts.
  if (site === baseHost && (isIP(baseHost.replace(/^\[|\]$/g, '')) !== 0 || !baseHost.includes('.'))) return false;
  return host === site || host.endsWith(`.${site}`);
}
