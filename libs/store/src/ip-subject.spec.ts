import fc from 'fast-check';
import { ipRateLimitSubject } from './ip-subject';

describe('ipRateLimitSubject (issue 7, finding 10)', () => {
  it('keys IPv4 by the exact address', () => {
    expect(ipRateLimitSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(ipRateLimitSubject('203.0.113.8')).toBe('203.0.113.8');
  });

  it.each([['::ffff:203.0.113.7'], ['::FFFF:203.0.113.7'], ['::ffff:cb00:7107'], ['0:0:0:0:0:ffff:203.0.113.7'], ['0000:0000:0000:0000:0000:FFFF:CB00:7107']])(
    'keys the IPv4-mapped %s as 203.0.113.7',
    (ip) => {
      expect(ipRateLimitSubject(ip)).toBe('203.0.113.7');
    },
  );

  it('keys IPv6 by its /64: every spelling and every interface id inside it is one subject', () => {
    const subject = '2001:db8:1:2::/64';
    for (const ip of [
      '2001:db8:1:2::1',
      '2001:DB8:1:2::1',
      '2001:0db8:0001:0002:0000:0000:0000:0001',
      '2001:db8:1:2:0:0:0:1',
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:db8:1:2:a:b:c:d',
      '2001:db8:1:2::',
      '2001:db8:1:2::203.0.113.7',
      '2001:db8:1:2::1%eth0',
    ]) {
      expect(ipRateLimitSubject(ip)).toBe(subject);
    }
    expect(ipRateLimitSubject('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(ipRateLimitSubject('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipRateLimitSubject('::1')).toBe('0:0:0:0::/64');
    expect(ipRateLimitSubject('fe80::1%25eth0')).toBe('fe80:0:0:0::/64');
  });

  it('passes anything that is not an IP address through unchanged', () => {
    expect(ipRateLimitSubject('unknown')).toBe('unknown');
    expect(ipRateLimitSubject('010.0.0.1')).toBe('010.0.0.1');
    expect(ipRateLimitSubject('')).toBe('');
  });

  const group = fc.integer({ min: 0, max: 0xffff });
  const mapped = (g: readonly number[]): boolean => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const address = fc.array(group, { minLength: 8, maxLength: 8 }).filter((g) => !mapped(g));
  const spellings = (g: readonly number[]): string[] => {
    const full = g.map((x) => x.toString(16).padStart(4, '0')).join(':');
    // WHATWG URL serialisation compresses the longest zero run (RFC 5952 style).
    const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
    return [full, full.toUpperCase(), compressed, compressed.toUpperCase(), g.map((x) => x.toString(16)).join(':')];
  };

  it('is one key per /64 and different keys for different /64s (property)', () => {
    fc.assert(
      fc.property(address, address, (a, b) => {
        const keys = new Set(spellings(a).map(ipRateLimitSubject));
        expect(keys.size).toBe(1);
        const sameNetwork = [...a.slice(0, 4), ...b.slice(4)];
        fc.pre(!mapped(sameNetwork));
        expect(ipRateLimitSubject(spellings(sameNetwork)[2])).toBe([...keys][0]);
        const sameSlash64 = a.slice(0, 4).every((x, i) => x === b[i]);
        expect(ipRateLimitSubject(spellings(b)[2]) === [...keys][0]).toBe(sameSlash64);
      }),
      { numRuns: 2000 },
    );
  });
});
