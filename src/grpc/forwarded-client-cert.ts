import { callerName } from "./caller-name.js";

/**
 * The identity in an `x-forwarded-client-cert` header as Envoy (and so
 * Istio) writes it: elements separated by commas, `key=value` pairs by
 * semicolons, values double-quoted when they hold one of `,;=` (with `\"`
 * inside). Each proxy appends its element, so the last one is what the
 * nearest proxy, the trusted sidecar, saw.
 *
 * Returns the first `spiffe://` URI, else the subject's CN; undefined when
 * the header names neither or does not parse (which must not fall back to
 * anything weaker silently: the caller is then simply not identified by it).
 */
export function forwardedClientIdentity(header: string): string | undefined {
  const elements = splitOutsideQuotes(header, ",");
  const last = elements?.at(-1);
  if (last === undefined) return undefined;
  const pairs = splitOutsideQuotes(last, ";");
  if (pairs === undefined) return undefined;
  let subject: string | undefined;
  for (const pair of pairs) {
    const separator = pair.indexOf("=");
    if (separator <= 0) return undefined;
    const key = pair.slice(0, separator).trim().toLowerCase();
    const value = unquote(pair.slice(separator + 1).trim());
    if (value === undefined) return undefined;
    if (key === "uri" && value.startsWith("spiffe://")) return callerName(value, "uri");
    if (key === "subject") subject = value;
  }
  return subject === undefined ? undefined : callerName(commonNameOf(subject), "cn");
}

/**
 * The CN of an RFC 4514 subject such as `CN=billing,OU=payments,O=Acme`.
 * Commas escaped as `\,` stay inside their attribute (so `OU=x\,CN=admin`
 * names no CN), and a CN holding any escape is not taken at all.
 */
function commonNameOf(subject: string): string | undefined {
  for (const part of subject.split(/(?<!\\),/)) {
    const match = /^\s*CN=(.+?)\s*$/i.exec(part);
    if (match?.[1] !== undefined) return match[1].includes("\\") ? undefined : match[1];
  }
  return undefined;
}

function splitOutsideQuotes(text: string, separator: string): string[] | undefined {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted && char === "\\" && i + 1 < text.length) {
      current += char + text[i + 1];
      i++;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === separator && !quoted) {
      parts.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  if (quoted) return undefined;
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part.length > 0);
}

/** Envoy escapes only `"` inside a quoted value; every other backslash belongs to the value (RFC 4514 escapes). */
function unquote(value: string): string | undefined {
  if (!value.startsWith('"')) return value.length > 0 ? value : undefined;
  if (value.length < 2 || !value.endsWith('"')) return undefined;
  return value.slice(1, -1).replace(/\\"/g, '"');
}
