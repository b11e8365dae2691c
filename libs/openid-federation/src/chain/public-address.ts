import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, isIPv4 } from 'node:net';

/**
 * Entity ids come from requests (a `native_callback_uri`'s origin), so resolving a chain must not
 * become a way to make the suite call its own network (SSRF): every address a fetch connects to
 * must be public. Loopback is allowed only with OPENID_FEDERATION_ALLOW_HTTP_LOOPBACK (tests).
 */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6');
}
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True when the suite may connect to `ip` to fetch an entity statement. */
export function addressAllowed(ip: string, allowLoopback: boolean): boolean {
  const bare = ip.replace(/^\[|\]$/g, '');
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  const address = mapped ?? bare;
  const type = isIPv4(address) ? 'ipv4' : 'ipv6';
  if (isIP(address) === 0) return false;
  if (allowLoopback && LOOPBACK.check(address, type)) return true;
  return !NON_PUBLIC.check(address, type);
}

export const NON_PUBLIC_ADDRESS = 'ENONPUBLIC';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that refuses a host name resolving to any non-public address. */
export function publicOnlyLookup(allowLoopback: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    dnsLookup(hostname, { family: options.family ?? 0, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const bad = addresses.find((a) => !addressAllowed(a.address, allowLoopback));
      if (bad || addresses.length === 0) return callback(Object.assign(new Error(`${hostname} resolves to a non-public address`), { code: NON_PUBLIC_ADDRESS }), '');
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
