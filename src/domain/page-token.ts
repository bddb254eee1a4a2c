import { createHash } from "node:crypto";
import type { SessionPageCursor } from "../store/records.js";
import { DomainError, invalidArgument } from "./errors.js";

// A page token is the keyset position (created_at, id) of the last session
// returned, bound to the query it came from: reusing it for another user or
// filter is refused instead of silently returning the wrong rows.

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface PageTokenBody {
  readonly q: string;
  readonly t: string;
  readonly i: string;
}

export function queryFingerprint(parts: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 16);
}

export function encodePageToken(query: string, cursor: SessionPageCursor): string {
  const body: PageTokenBody = { q: query, t: cursor.createdAt.toISOString(), i: cursor.id };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

const invalidPageToken = () =>
  new DomainError("INVALID_PAGE_TOKEN", "page_token was not issued for this listing", {
    metadata: { field: "page_token" },
  });

function parseTokenBody(token: string): Partial<Record<keyof PageTokenBody, unknown>> {
  if (token.length > 512) throw invalidPageToken();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidPageToken();
  }
  if (typeof body !== "object" || body === null) throw invalidPageToken();
  return body as Partial<Record<keyof PageTokenBody, unknown>>;
}

/** For listings ordered by a numeric id alone (the audit log): the last id returned. */
export function encodeIdPageToken(query: string, id: bigint): string {
  return Buffer.from(JSON.stringify({ q: query, i: id.toString() })).toString("base64url");
}

export function decodeIdPageToken(query: string, token: string): bigint {
  const { q, i } = parseTokenBody(token);
  if (q !== query || typeof i !== "string" || !/^[1-9]\d{0,17}$/.test(i)) throw invalidPageToken();
  return BigInt(i);
}

export function decodePageToken(query: string, token: string): SessionPageCursor {
  const invalid = invalidPageToken();
  const { q, t, i } = parseTokenBody(token);
  if (q !== query || typeof t !== "string" || typeof i !== "string") throw invalid;
  const createdAt = new Date(t);
  const year = createdAt.getUTCFullYear();
  if (Number.isNaN(createdAt.getTime()) || year < 2000 || year > 9999 || !uuid.test(i)) throw invalid;
  return { createdAt, id: i };
}

/** page_size: 1–max, and 0 (unset) means the default (20 of at most 100 unless a listing says otherwise). */
export function pageSize(requested: number, bounds: { readonly fallback: number; readonly max: number } = { fallback: 20, max: 100 }): number {
  if (!Number.isInteger(requested) || requested < 0 || requested > bounds.max) {
    throw invalidArgument("page_size", `must be between 0 and ${bounds.max}`);
  }
  return requested === 0 ? bounds.fallback : requested;
}

/**
 * Cuts a page from rows fetched with one row more than asked (which tells
 * whether another page exists without a count) and makes the next token.
 */
export function cutPage<Row>(rows: readonly Row[], size: number, query: string, cursorOf: (row: Row) => SessionPageCursor) {
  const items = rows.slice(0, size);
  const last = items[items.length - 1];
  const nextPageToken = rows.length > size && last !== undefined ? encodePageToken(query, cursorOf(last)) : "";
  return { items, nextPageToken };
}
