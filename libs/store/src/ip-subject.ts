import { isIPv4, isIPv6 } from 'node:net';

/**
 * The subject an IP-keyed rate limit counts a client under (issue 7, finding 10).
 *
 * - IPv4: the address as is (`203.0.113.7`).
 * - IPv4-mapped IPv6 (`::ffff:203.0.113.7`, RFC 4291 §2.5.5.2, what a dual-stack socket reports for
 *   an IPv4 client): the IPv4 address, so both spellings share one counter.
 * - Any other IPv6: its /64 prefix (`2001:db8:1:2::/64`). RFC 4291 §2.5.4 gives hosts 64-bit interface
 *   identifiers and RFC 8981 has them rotate temporary ones, so one subscriber holds a whole /64 (and
 *   often far more); keying the exact address would let a client rotate past every limit. The zone
 *   (`%eth0`) is dropped, and every spelling (leading zeros, `::`, upper case, embedded dotted IPv4)
 *   yields the same key.
 * - Anything else (`unknown`, a value a fully trusted proxy passed on): the text as given.
 */
export function ipRateLimitSubject(ip: string): string {
  const zone = ip.indexOf('%');
  const address = zone >= 0 && isIPv6(ip) ? ip.slice(0, zone) : ip;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return ip;
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`isIPv6` already checked it). */
function ipv6Groups(address: string): number[] {
  let text = address;
  // A trailing dotted IPv4 (RFC 4291 §2.2 form 3) is the last two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
