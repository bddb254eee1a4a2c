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

export function decodePageToken(query: string, token: string): SessionPageCursor {
  const invalid = new DomainError("INVALID_PAGE_TOKEN", "page_token was not issued for this listing", {
    metadata: { field: "page_token" },
  });
  if (token.length > 512) throw invalid;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid;
  }
  if (typeof body !== "object" || body === null) throw invalid;
  const { q, t, i } = body as Partial<Record<keyof PageTokenBody, unknown>>;
  if (q !== query || typeof t !== "string" || typeof i !== "string") throw invalid;
  const createdAt = new Date(t);
  const year = createdAt.getUTCFullYear();
  if (Number.isNaN(createdAt.getTime()) || year < 2000 || year > 9999 || !uuid.test(i)) throw invalid;
  return { createdAt, id: i };
}

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

/** page_size: 1–100, and 0 (unset) means 20. */
export function pageSize(requested: number): number {
  if (!Number.isInteger(requested) || requested < 0 || requested > MAX_PAGE_SIZE) {
    throw invalidArgument("page_size", `must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  return requested === 0 ? DEFAULT_PAGE_SIZE : requested;
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
