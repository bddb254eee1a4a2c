import { isIP } from "node:net";
import { invalidArgument } from "./errors.js";

// Bounds on everything a caller sends: nothing unbounded reaches the database
// or an access token.

const printable = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function requiredId(field: string, value: string, maxLength = 256): string {
  if (value.length === 0) throw invalidArgument(field, "is required");
  return identifier(field, value, maxLength);
}

export function optionalId(field: string, value: string, maxLength = 256): string | null {
  return value.length === 0 ? null : identifier(field, value, maxLength);
}

function identifier(field: string, value: string, maxLength: number): string {
  if (value.length > maxLength) throw invalidArgument(field, `must be at most ${maxLength} characters`);
  if (!printable.test(value)) throw invalidArgument(field, "must be printable ASCII without surrounding spaces");
  return value;
}

export function sessionId(field: string, value: string): string {
  if (value.length === 0) throw invalidArgument(field, "is required");
  const lower = value.toLowerCase();
  if (!uuid.test(lower)) throw invalidArgument(field, "must be a UUID");
  return lower;
}

export function optionalSessionId(field: string, value: string): string | null {
  return value.length === 0 ? null : sessionId(field, value);
}

/** Free text (device names, user agents): any characters but control ones, bounded. */
export function optionalText(field: string, value: string, maxLength: number): string | null {
  if (value.length === 0) return null;
  if (value.length > maxLength) throw invalidArgument(field, `must be at most ${maxLength} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw invalidArgument(field, "must not contain control characters");
  return value;
}

/**
 * An IP address in one canonical form: IPv6 compressed and lower-case (RFC
 * 5952), an IPv4-mapped IPv6 address as the IPv4 address it maps. A client is
 * bound by its address, and one client seen through a dual-stack socket
 * (`::ffff:203.0.113.7`) and through IPv4 (`203.0.113.7`) is one client: a
 * retry must not look like someone else's reuse.
 */
export function optionalIp(field: string, value: string): string | null {
  if (value.length === 0) return null;
  const version = value.length > 64 ? 0 : isIP(value);
  if (version === 0) throw invalidArgument(field, "must be an IPv4 or IPv6 address");
  return version === 4 ? value : canonicalIpv6(value);
}

function canonicalIpv6(value: string): string {
  // The WHATWG URL parser serialises IPv6 hosts in RFC 5952 form; a zone id (fe80::1%eth0) is not a host it takes.
  const zone = value.indexOf("%");
  const address = zone === -1 ? value : value.slice(0, zone);
  const compressed = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped !== null) {
    const high = Number.parseInt(mapped[1] ?? "0", 16);
    const low = Number.parseInt(mapped[2] ?? "0", 16);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  }
  return zone === -1 ? compressed : `${compressed}${value.slice(zone)}`;
}

export function reason(field: string, value: string, fallback: string): string {
  if (value.length === 0) return fallback;
  if (value.length > 64 || !/^[a-z0-9][a-z0-9_.:-]*$/i.test(value)) {
    throw invalidArgument(field, "must be up to 64 letters, digits or _ . : -");
  }
  return value;
}
