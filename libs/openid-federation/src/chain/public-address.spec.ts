import { addressAllowed } from './public-address';

describe('addressAllowed (no SSRF through entity ids)', () => {
  it.each(['10.0.0.1', '172.16.5.4', '192.168.1.1', '127.0.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd12::1', 'fe80::1', '::ffff:10.0.0.1', '[::1]', 'not-an-ip'])('refuses %s', (ip) => {
    expect(addressAllowed(ip, false)).toBe(false);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('allows the public address %s', (ip) => {
    expect(addressAllowed(ip, false)).toBe(true);
  });

  it('allows loopback, and only loopback, when loopback http is allowed (tests)', () => {
    expect(addressAllowed('127.0.0.1', true)).toBe(true);
    expect(addressAllowed('::1', true)).toBe(true);
    expect(addressAllowed('10.0.0.1', true)).toBe(false);
  });
});
