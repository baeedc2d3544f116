import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Which addresses a webhook may be delivered to. Only globally routable unicast passes:
 * loopback, private, link-local, unique-local, CGNAT, multicast, reserved and unspecified
 * addresses are refused, including when an IPv4 address hides inside an IPv6 one
 * (IPv4-mapped, IPv4-compatible, NAT64, 6to4). Teredo is refused outright: it embeds an
 * obfuscated IPv4 and no real receiver needs it.
 */
export function isForbiddenAddress(address: string): boolean {
  const text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(text) === 0) return true;
  const parsed = ipaddr.parse(text);
  if (parsed.kind() === 'ipv4') return parsed.range() !== 'unicast';
  const v6 = parsed as ipaddr.IPv6;
  const embedded = embeddedIPv4(v6);
  if (embedded) return embedded.range() !== 'unicast';
  return v6.range() !== 'unicast';
}

function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const parts = v6.parts;
  const fromWords = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const range = v6.range();
  const last = () => fromWords(parts[6] ?? 0, parts[7] ?? 0);
  if (range === 'ipv4Mapped' || range === 'rfc6145' || range === 'rfc6052') return last();
  if (range === '6to4') return fromWords(parts[1] ?? 0, parts[2] ?? 0);
  // IPv4-compatible ::a.b.c.d (deprecated, but still routed by some stacks); :: and ::1 stay as they are.
  if (parts.slice(0, 6).every((p) => p === 0) && (parts[6] ?? 0) !== 0) return last();
  return undefined;
}

/** `localhost`, any `*.localhost` (RFC 6761) and their trailing-dot forms. */
export function isLocalhostName(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.+$/, '');
  return host === 'localhost' || host.endsWith('.localhost');
}

/**
 * Why a webhook URL may not be registered, or undefined when it may. The WHATWG URL
 * parser has already normalised every IPv4 spelling (decimal, octal, hex, short forms,
 * trailing dot) to dotted quads and IPv6 to its short form, so one classifier sees them all.
 * Names are checked again at delivery, against the address actually connected to.
 */
export function targetUrlProblem(url: URL, allowPrivateTargets: boolean): string | undefined {
  if (url.username || url.password) return 'must not contain credentials (user:password@)';
  if (allowPrivateTargets) return undefined;
  const host = url.hostname.replace(/\.+$/, '');
  if (isLocalhostName(host)) return 'must not point at localhost';
  const literal = host.replace(/^\[|\]$/g, '');
  // node:net's isIP, not ipaddr.isValid: that one throws and catches inside for every
  // host name, which cost 8% of the CPU of a registerWebhook.
  if (isIP(literal) !== 0 && isForbiddenAddress(literal)) {
    return 'must not point at a private, loopback, link-local or otherwise non-public address';
  }
  return undefined;
}
