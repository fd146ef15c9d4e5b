import { isIP } from 'node:net';

/**
 * Whether an IP address is on the public internet. Anything else (loopback, private ranges,
 * link-local and cloud metadata, CGNAT, multicast, reserved, IPv4 mapped into IPv6 …) is refused
 * for downloads of upstream image URLs unless the channel is marked local: a provider's answer
 * must not be able to make the gateway read its own network (SSRF).
 */
export function isPublicAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 4) return isPublicV4(address);
  if (version === 6) return isPublicV6(address);
  return false;
}

/** IPv4 ranges that are not globally routable (IANA special-purpose registry, RFC 6890). */
const V4_BLOCKED: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

function v4ToInt(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function isPublicV4(address: string): boolean {
  const value = v4ToInt(address);
  return !V4_BLOCKED.some(([base, bits]) => {
    const size = 2 ** (32 - bits);
    const start = v4ToInt(base);
    return value >= start && value < start + size;
  });
}

function isPublicV6(address: string): boolean {
  const groups = expandV6(address);
  if (groups === null) return false;
  const [g0 = 0, , , , , g5 = 0, g6 = 0, g7 = 0] = groups;
  // ::ffff:a.b.c.d and the deprecated ::a.b.c.d carry an IPv4 address: judge that.
  if (groups.slice(0, 5).every((g) => g === 0) && (g5 === 0xffff || g5 === 0)) {
    if (g5 === 0 && g6 === 0 && g7 <= 1) return false; // :: and ::1
    return isPublicV4(`${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`);
  }
  if ((g0 & 0xfe00) === 0xfc00) return false; // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80) return false; // fe80::/10 link-local
  if ((g0 & 0xff00) === 0xff00) return false; // ff00::/8 multicast
  if (g0 === 0x2001 && groups[1] === 0x0db8) return false; // 2001:db8::/32 documentation
  if (g0 === 0x0064 && groups[1] === 0xff9b) return false; // 64:ff9b::/96 NAT64 can reach private v4
  if (g0 === 0x2002) return false; // 6to4 embeds arbitrary v4
  return (g0 & 0xe000) === 0x2000; // only 2000::/3 is global unicast
}

function expandV6(address: string): number[] | null {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // A trailing dotted quad becomes two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad?.[1] !== undefined) {
    const v = v4ToInt(quad[1]);
    text = `${text.slice(0, quad.index)}${(v >>> 16).toString(16)}:${(v & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const all = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  const groups = all.map((g) => Number.parseInt(g, 16));
  return groups.some((g) => Number.isNaN(g) || g < 0 || g > 0xffff) ? null : groups;
}
