import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isForbiddenAddress, targetUrlProblem } from '../../src/webhooks/targets.js';

const refused = (url: string) => targetUrlProblem(new URL(url), false) !== undefined;

describe('registration refuses every spelling of a non-public target', () => {
  it.each([
    // IPv4 loopback in its many spellings; the WHATWG parser normalises all of them.
    'http://127.0.0.1/',
    'http://127.1/',
    'http://127.0.1/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0x7f.0.0.1/',
    'http://0177.0.0.1/',
    'http://017700000001/',
    'http://127.0.0.1./',
    'http://127.255.255.254/',
    // The other forbidden IPv4 ranges.
    'http://0.0.0.0/',
    'http://0/',
    'http://10.0.0.1/',
    'http://100.64.0.1/',
    'http://100.127.255.255/',
    'http://169.254.169.254/',
    'http://172.16.0.1/',
    'http://172.31.255.255/',
    'http://192.0.0.8/',
    'http://192.168.1.1/',
    'http://198.18.0.1/',
    'http://198.19.255.255/',
    'http://224.0.0.1/',
    'http://239.255.255.250/',
    'http://240.0.0.1/',
    'http://255.255.255.255/',
    // IPv6, and IPv4 hiding inside IPv6.
    'http://[::]/',
    'http://[::1]/',
    'http://[0:0:0:0:0:0:0:1]/',
    'http://[fc00::1]/',
    'http://[fd12:3456::1]/',
    'http://[fe80::1]/',
    'http://[ff02::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[::ffff:10.0.0.1]/',
    'http://[::127.0.0.1]/',
    'http://[64:ff9b::127.0.0.1]/',
    'http://[64:ff9b::a00:1]/',
    'http://[2002:7f00:1::]/',
    'http://[2002:a9fe:a9fe::1]/',
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/',
    // localhost names.
    'http://localhost/',
    'http://LOCALHOST/',
    'http://localhost./',
    'http://api.localhost/',
    'https://a.b.localhost:8443/x',
    // Credentials.
    'https://user:pass@example.com/',
    'https://token@example.com/',
  ])('%s', (url) => {
    expect(refused(url)).toBe(true);
  });

  it.each([
    'https://example.com/hooks',
    'https://hooks.example.co.uk:8443/a?b=c',
    'http://93.184.215.14/',
    'http://8.8.8.8/',
    'http://172.32.0.1/',
    'http://100.128.0.1/',
    'http://[2606:4700:4700::1111]/',
    'http://[::ffff:8.8.8.8]/',
    'http://[2002:808:808::1]/',
    'https://localhost.example.com/',
  ])('accepts the public target %s', (url) => {
    expect(refused(url)).toBe(false);
  });

  it('lets everything through with ALLOW_PRIVATE_TARGETS, except credentials', () => {
    expect(targetUrlProblem(new URL('http://127.0.0.1:8080/'), true)).toBeUndefined();
    expect(targetUrlProblem(new URL('http://u:p@127.0.0.1/'), true)).toMatch(/credentials/);
  });
});

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet);
const inRange = (a: number[], prefix: number[], bits: number) => {
  const toInt = (o: number[]) => o.reduce((n, x) => n * 256 + x, 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const address = toInt(a) >>> 0;
  return (address & mask) >>> 0 === (toInt(prefix) & mask) >>> 0;
};
const FORBIDDEN_V4: [number[], number][] = [
  [[0, 0, 0, 0], 8],
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10],
  [[127, 0, 0, 0], 8],
  [[169, 254, 0, 0], 16],
  [[172, 16, 0, 0], 12],
  [[192, 0, 0, 0], 24],
  [[192, 168, 0, 0], 16],
  [[198, 18, 0, 0], 15],
  [[224, 0, 0, 0], 4],
  [[240, 0, 0, 0], 4],
];
const isForbiddenV4 = (o: number[]) => FORBIDDEN_V4.some(([prefix, bits]) => inRange(o, prefix, bits));
const hex = (o: number[]) =>
  [((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0)].map((n) => n.toString(16));

describe('the classifier, property-tested', () => {
  it('refuses every address of the forbidden IPv4 ranges, however it is written in a URL', () => {
    const spellings = (o: number[]) => [
      o.join('.'),
      String(o.reduce((n, x) => n * 256 + x, 0)),
      `0x${o.map((x) => x.toString(16).padStart(2, '0')).join('')}`,
      o.map((x) => `0${x.toString(8)}`).join('.'),
      `${o.join('.')}.`,
      `[::ffff:${o.join('.')}]`,
      `[64:ff9b::${hex(o).join(':')}]`,
      `[2002:${hex(o).join(':')}::1]`,
    ];
    fc.assert(
      fc.property(ipv4, (o) => {
        for (const host of spellings(o)) {
          const problem = targetUrlProblem(new URL(`http://${host}/`), false);
          if (isForbiddenV4(o)) expect(problem, host).toMatch(/localhost|non-public/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with an independent range table for every IPv4 address (documentation ranges aside)', () => {
    const documentation: [number[], number][] = [
      [[192, 0, 2, 0], 24],
      [[198, 51, 100, 0], 24],
      [[203, 0, 113, 0], 24],
      [[192, 88, 99, 0], 24],
      [[192, 175, 48, 0], 24],
      [[192, 31, 196, 0], 24],
      [[192, 52, 193, 0], 24],
      [[255, 255, 255, 255], 32],
    ];
    fc.assert(
      fc.property(ipv4, (o) => {
        if (documentation.some(([p, b]) => inRange(o, p, b))) return;
        expect(isForbiddenAddress(o.join('.')), o.join('.')).toBe(isForbiddenV4(o));
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses all of fc00::/7, fe80::/10 and ff00::/8', () => {
    const word = fc.integer({ min: 0, max: 0xffff });
    const rest = fc.array(word, { minLength: 7, maxLength: 7 });
    const cases = [
      fc.tuple(fc.integer({ min: 0xfc00, max: 0xfdff }), rest),
      fc.tuple(fc.integer({ min: 0xfe80, max: 0xfebf }), rest),
      fc.tuple(fc.integer({ min: 0xff00, max: 0xffff }), rest),
    ];
    for (const arbitrary of cases) {
      fc.assert(
        fc.property(arbitrary, ([first, others]) => {
          const address = [first, ...others].map((n) => n.toString(16)).join(':');
          expect(isForbiddenAddress(address), address).toBe(true);
          expect(targetUrlProblem(new URL(`http://[${address}]/`), false)).toMatch(/non-public/);
        }),
        { numRuns: 500 },
      );
    }
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(typeof isForbiddenAddress(text)).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
