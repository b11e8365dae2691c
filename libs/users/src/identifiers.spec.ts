import fc from 'fast-check';
import addressparser from 'nodemailer/lib/addressparser';
import { maskEmail, maskPhone, normalizeEmail, normalizePhone } from './identifiers';

describe('normalizeEmail: one mailbox, one identifier (issue 7, finding 9)', () => {
  it('lower-cases and keeps plain dot-atom addresses', () => {
    expect(normalizeEmail('Alice@Example.com')).toBe('alice@example.com');
    expect(normalizeEmail('first.last+tag@sub.example.co.uk')).toBe('first.last+tag@sub.example.co.uk');
    // Every RFC 5322 atext character is allowed in the local part.
    expect(normalizeEmail("a!#$%&'*+-/=?^_`{|}~b@example.com")).toBe("a!#$%&'*+-/=?^_`{|}~b@example.com");
    expect(normalizeEmail('x@a-b.example')).toBe('x@a-b.example');
    // Spaces around a pasted address are tolerated (they cannot name another mailbox).
    expect(normalizeEmail('  Bob@Example.com ')).toBe('bob@example.com');
  });

  // Forms that must map to one identifier: the same mailbox spelled differently.
  it.each([
    ['User@Bücher.Example'],
    ['user@xn--bcher-kva.example'],
    ['USER@XN--BCHER-KVA.EXAMPLE'],
    ['user@BÜCHER.example'],
    ['user@bu\u0308cher.example'], // NFD: u + combining diaeresis
    ['user@ｂüｃｈｅｒ.example'], // full-width letters (UTS #46 mapping)
    ['user@bücher。example'], // ideographic full stop is a label separator (UTS #46, RFC 3490 §3.1)
  ])('%s is user@xn--bcher-kva.example', (spelling) => {
    expect(normalizeEmail(spelling)).toBe('user@xn--bcher-kva.example');
  });

  it('IDNA2008 (non-transitional) keeps ß and final sigma distinct, as registries do', () => {
    expect(normalizeEmail('a@faß.de')).toBe('a@xn--fa-hia.de');
    expect(normalizeEmail('a@fass.de')).toBe('a@fass.de');
    expect(normalizeEmail('a@βόλος.com')).toBe('a@xn--nxasmm1c.com');
    expect(normalizeEmail('a@βόλοσ.com')).toBe('a@xn--nxasmq6b.com');
    expect(normalizeEmail('a@example.рф')).toBe('a@example.xn--p1ai');
  });

  // Forms that must be refused rather than mapped: a mailer (nodemailer's address parser) or a relay
  // would read another destination, or the form hides what it is.
  it.each([
    ['"x"<a@evil.com>', 'display name + angle brackets'],
    ['x <a@evil.com>', 'display name'],
    ['<a@evil.com>', 'angle brackets'],
    ['victim@example.com <a@evil.com>', 'display name that looks like an address'],
    ['a@evil.com, victim@example.com', 'address list'],
    ['a@evil.com;victim@example.com', 'list with semicolon'],
    ['group: a@evil.com;', 'group syntax'],
    ['undisclosed-recipients:;', 'empty group'],
    ['"a b"@example.com', 'quoted local part'],
    ['"a@evil.com"@example.com', 'quoted local part holding an @'],
    ['a(comment)@example.com', 'comment'],
    ['a@example.com(comment)', 'comment after the domain'],
    ['a@[127.0.0.1]', 'address literal'],
    ['a@[IPv6:::1]', 'IPv6 address literal'],
    ['@relay.example:a@example.com', 'source route'],
    ['a@b@example.com', 'two @'],
    ['a@example.com.', 'trailing root dot'],
    ['a@example.com。', 'trailing ideographic full stop'],
    ['a@.example.com', 'leading dot in the domain'],
    ['a@example..com', 'empty label'],
    ['a@localhost', 'single-label domain'],
    ['a@com', 'bare TLD'],
    ['a@example.123', 'numeric TLD'],
    ['a@127.0.0.1', 'IPv4 as a domain'],
    ['a@0x7f.1', 'IPv4 in WHATWG shorthand'],
    ['a@ex%61mple.com', 'percent-encoded domain'],
    ['a@exa_mple.com', 'underscore in the domain'],
    ['a@-example.com', 'label starting with a hyphen'],
    ['a@example-.com', 'label ending with a hyphen'],
    ['a@ab--cd.com', 'R-LDH label that is not an A-label'],
    ['a@xn--zz.com', 'invalid punycode'],
    ['a@xn--bcher-kva-.example', 'non-canonical A-label'],
    ['a@exa\u00admple.com', 'soft hyphen (silently dropped by UTS #46)'],
    ['a@\u200bexample.com', 'zero-width space'],
    ['a@ex\u200dample.com', 'zero-width joiner outside CONTEXTJ'],
    ['a@example.com\u202e', 'bidi override'],
    ['.a@example.com', 'leading dot in the local part'],
    ['a.@example.com', 'trailing dot in the local part'],
    ['a..b@example.com', 'consecutive dots'],
    ['ü@example.com', 'non-ASCII local part (SMTPUTF8)'],
    ['ａ@example.com', 'full-width local part'],
    ['a＠example.com', 'full-width at sign'],
    ['a\\b@example.com', 'backslash'],
    ['a,b@example.com', 'comma'],
    ['a b@example.com', 'space'],
    ['a@example.com \t', 'trailing tab'],
    ['a@example.com\n', 'trailing newline'],
    ['a@example.com\r\nBcc: victim@example.com', 'header injection'],
    ['a\u0000@example.com', 'NUL'],
    ['a\t@example.com', 'tab'],
    ['a\u00a0@example.com', 'no-break space'],
    ['a@exam\u007fple.com', 'DEL'],
    ['@example.com', 'empty local part'],
    ['a@', 'empty domain'],
    ['a', 'no @'],
    ['', 'empty'],
  ])('refuses %j (%s)', (input) => {
    expect(normalizeEmail(input)).toBeUndefined();
  });

  it('enforces RFC 5321 / RFC 1035 lengths', () => {
    const label63 = 'a'.repeat(63);
    expect(normalizeEmail(`${'l'.repeat(64)}@example.com`)).toBe(`${'l'.repeat(64)}@example.com`);
    expect(normalizeEmail(`${'l'.repeat(65)}@example.com`)).toBeUndefined();
    expect(normalizeEmail(`a@${label63}.com`)).toBe(`a@${label63}.com`);
    expect(normalizeEmail(`a@${'a'.repeat(64)}.com`)).toBeUndefined();
    // 254 characters in all is the most a path may carry.
    const domain249 = `${label63}.${label63}.${label63}.${'b'.repeat(53)}.com`;
    expect(domain249).toHaveLength(249);
    expect(normalizeEmail(`abcd@${domain249}`)).toHaveLength(254);
    expect(normalizeEmail(`abcde@${domain249}`)).toBeUndefined();
    // RFC 1035: a 254-character domain is too long even before the address limit.
    expect(normalizeEmail(`a@${label63}.${label63}.${label63}.${'b'.repeat(58)}.com`)).toBeUndefined();
    // A Unicode label whose A-label exceeds 63 octets.
    const cjk = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCodePoint(0x4e00 + i * 37)).join('');
    expect(normalizeEmail(`a@${cjk(5)}.example`)).toMatch(/^a@xn--[a-z0-9]+\.example$/);
    expect(normalizeEmail(`a@${cjk(35)}.example`)).toBeUndefined();
    expect(normalizeEmail(`a@${'ü'.repeat(3000)}.example`)).toBeUndefined();
  });

  it('never accepts anything a mailer would read as another address, and is idempotent (property)', () => {
    const piece = fc.constantFrom('a', 'B', '.', '@', '"', '<', '>', ',', ';', ':', '(', ')', '[', ']', ' ', '\\', '-', '_', '%', 'ü', 'xn--', 'example', 'com', '\u00ad', '\u3002', '\n');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const normalized = normalizeEmail(parts.join(''));
        if (normalized === undefined) return;
        expect(normalizeEmail(normalized)).toBe(normalized);
        expect(addressparser(normalized, { flatten: true })).toEqual([{ name: '', address: normalized }]);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('maskEmail', () => {
  it('masks the local part and keeps the domain, A-labels included', () => {
    expect(maskEmail('alice@example.com')).toBe('a***e@example.com');
    expect(maskEmail(normalizeEmail('User@Bücher.Example')!)).toBe('u**r@xn--bcher-kva.example');
    expect(maskEmail(normalizeEmail('jo@xn--ls8h.la')!)).toBe('j*@xn--ls8h.la');
    expect(maskEmail('a@x.example')).toBe('a*@x.example');
  });
});

describe('normalizePhone: E.164 only', () => {
  it.each([['+442079460958'], ['+44 20 7946 0958'], ['+44 (20) 7946-0958'], ['+44.20.7946.0958'], [' +44 20 7946 0958 ']])('%j is +442079460958', (spelling) => {
    expect(normalizePhone(spelling)).toBe('+442079460958');
  });

  it.each([
    ['+44 (0)20 7946 0958', 'trunk prefix in parentheses: +44020… is another number'],
    ['+44 ( 0 ) 20 7946 0958', 'spaced trunk prefix'],
    ['00442079460958', '00 instead of +'],
    ['442079460958', 'no international prefix'],
    ['+0442079460958', 'country code starting with 0'],
    ['++442079460958', 'two plus signs'],
    ['+44 20 7946+0958', 'plus inside'],
    ['+44 20 7946 0958 x12', 'extension'],
    ['+442079460958;ext=12', 'RFC 3966 extension'],
    ['tel:+442079460958', 'URI form'],
    ['+44\t2079460958', 'tab'],
    ['+442079460958\n', 'newline'],
    ['+44\u00a02079460958', 'no-break space'],
    ['+４４２０７９４６０９５８', 'full-width digits'],
    ['+44٢079460958', 'Arabic-Indic digit'],
    ['+44–2079460958', 'en dash'],
    ['+1234567890123456', '16 digits'],
    ['+123456', '6 digits'],
    [`+44${' '.repeat(40)}2079460958`, 'overlong input'],
    ['', 'empty'],
  ])('refuses %j (%s)', (input) => {
    expect(normalizePhone(input)).toBeUndefined();
  });

  it('masks', () => {
    expect(maskPhone('+442079460958')).toBe('+44******0958');
    expect(maskPhone('+1234567')).toBe('+*****67');
  });
});
