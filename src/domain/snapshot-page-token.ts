import type { FeedCursor, SnapshotPosition } from "../store/event-repository.js";
import { DomainError } from "./errors.js";

// A GetRevocationSnapshot page token carries what makes every page part of
// one snapshot: the feed cursor (and its epoch) read with the first page, and
// where the last page stopped. It is bound to the organisations asked for,
// so a token is not reused for another filter. Forging one gains nothing: it
// can only name a cursor the caller could pass to WatchRevocations anyway,
// and every page is filtered to the caller's organisations again.

/** Which list a page is in: user versions come first, then revoked sessions. */
export type SnapshotSection = "users" | "sessions";

export interface SnapshotPageState {
  readonly cursor: FeedCursor;
  readonly epoch: number;
  readonly section: SnapshotSection;
  /** The last row returned in `section`; null to start the section from its beginning. */
  readonly after: SnapshotPosition | null;
}

interface Body {
  readonly q: string;
  readonly e: number;
  readonly c: string;
  readonly s: "u" | "s";
  readonly t?: string;
  readonly k?: string;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_BIGINT = 2n ** 63n - 1n;

const invalid = () =>
  new DomainError("INVALID_PAGE_TOKEN", "page_token was not issued for this snapshot (send the same org_ids with every page)", {
    metadata: { field: "page_token" },
  });

export function encodeSnapshotPageToken(query: string, state: SnapshotPageState): string {
  const body: Body = {
    q: query,
    e: state.epoch,
    c: `${state.cursor.txid}.${state.cursor.id}`,
    s: state.section === "users" ? "u" : "s",
    ...(state.after === null ? {} : { t: state.after.micros.toString(), k: state.after.key }),
  };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function bigintOf(text: unknown): bigint | undefined {
  if (typeof text !== "string" || !/^\d{1,19}$/.test(text)) return undefined;
  const value = BigInt(text);
  return value > MAX_BIGINT ? undefined : value;
}

export function decodeSnapshotPageToken(query: string, token: string): SnapshotPageState {
  // A user id is at most 256 characters; JSON escaping and base64 stay well below this.
  if (token.length > 4096) throw invalid();
  let body: Partial<Record<keyof Body, unknown>>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof parsed !== "object" || parsed === null) throw invalid();
    body = parsed as Partial<Record<keyof Body, unknown>>;
  } catch {
    throw invalid();
  }
  const parts = typeof body.c === "string" ? body.c.split(".") : [];
  const [txid, id] = parts.length === 2 ? parts.map(bigintOf) : [];
  const epoch = body.e;
  if (body.q !== query || txid === undefined || id === undefined || typeof epoch !== "number" || !Number.isInteger(epoch) || epoch < 0 || epoch > 2 ** 31) {
    throw invalid();
  }
  if (body.s !== "u" && body.s !== "s") throw invalid();
  const section: SnapshotSection = body.s === "u" ? "users" : "sessions";
  let after: SnapshotPosition | null = null;
  if (body.t !== undefined || body.k !== undefined) {
    const micros = bigintOf(body.t);
    const key = body.k;
    const keyValid = typeof key === "string" && (section === "sessions" ? uuid.test(key) : key.length > 0 && key.length <= 256);
    if (micros === undefined || !keyValid) throw invalid();
    after = { micros, key };
  }
  return { cursor: { txid, id }, epoch, section, after };
}
