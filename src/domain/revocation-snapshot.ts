import type { FeedCursor, RevocationSnapshotRows, SnapshotPosition } from "../store/event-repository.js";
import type { Store } from "../store/store.js";
import type { Caller, Clock } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { visibleOrgs } from "./org-scope.js";
import { pageSize, queryFingerprint } from "./page-token.js";
import { decodeSnapshotPageToken, encodeSnapshotPageToken, type SnapshotPageState, type SnapshotSection } from "./snapshot-page-token.js";

export interface RevocationSnapshot extends RevocationSnapshotRows {
  readonly cursor: FeedCursor;
  readonly windowMs: number;
}

// Margin for clock differences between replicas and the database.
const CLOCK_MARGIN_MS = 5 * 60_000;

/**
 * How far back revocations matter: a token older than the longest access
 * lifetime plus leeway has expired, whatever happened to its session.
 */
export const revocationWindowMs = (settings: { accessTtlMaxMs: number; accessTokenLeewayMs: number }) =>
  settings.accessTtlMaxMs + settings.accessTokenLeewayMs;

/** How far back a snapshot reads: the window plus the clock margin. Rows it reads must live at least this long. */
export const snapshotReachMs = (settings: { accessTtlMaxMs: number; accessTokenLeewayMs: number }) => revocationWindowMs(settings) + CLOCK_MARGIN_MS;

/**
 * The recent revocations and the feed cursor they are consistent with, read
 * in one REPEATABLE READ snapshot: every event below the cursor is reflected;
 * events after it may repeat some of it, which is harmless to apply again.
 */
export function readRevocationSnapshot(
  store: Store,
  clock: Clock,
  windowMs: number,
  orgs: readonly string[] | undefined,
): Promise<RevocationSnapshot> {
  const since = new Date(clock.now().getTime() - windowMs - CLOCK_MARGIN_MS);
  return store.snapshot(async ({ events }) => {
    const cursor = await events.head();
    const rows = await events.snapshot(since, orgs);
    return { ...rows, cursor, windowMs };
  });
}

export interface RevocationSnapshotPageInput {
  readonly orgIds: readonly string[];
  readonly pageSize: number;
  /** next_page_token of the previous page; "" for the first. */
  readonly pageToken: string;
}

export interface RevocationSnapshotPage extends RevocationSnapshot {
  /** "" on the last page. */
  readonly nextPageToken: string;
}

// Entries (user versions plus revoked sessions) per page. A revoked session
// is at most ~650 bytes on the wire (a 36-character id, 256-character user
// and organisation ids, a 64-character reason, a timestamp), so 2,000 stay
// near 1.3 MB, well under the 4 MiB every gRPC client accepts by default.
const SNAPSHOT_PAGE = { fallback: 1_000, max: 2_000 } as const;

/**
 * GetRevocationSnapshot, one page at a time, limited to the organisations
 * the caller may see. Every page of one snapshot carries the first page's
 * cursor, the one to watch from, and that is enough to make the pages
 * together as good as one snapshot read at that cursor:
 * - the first page reads the cursor and its rows in one REPEATABLE READ
 *   snapshot, as an unpaged snapshot would;
 * - a later page is read later, so it reflects the state at the cursor plus
 *   what changed since. Revocations only ever add (a session is never
 *   un-revoked, versions only grow), and every change after the cursor also
 *   comes through the feed from the cursor, so a row appearing early is a
 *   revocation applied twice, which is harmless;
 * - nothing true at the cursor is missing from a later page: revoked
 *   sessions are kept for the snapshot's reach (deleteEndedSessions), an
 *   account deletion that erases them also bumps the user's version, and that
 *   comes through the feed; and the keyset order (revoked_at or bumped_at,
 *   then id) never moves a row behind the position already read, because
 *   those times are only ever set forward;
 * - `since` is taken per page: a row that falls out of reach between pages
 *   was revoked longer ago than any access token lives.
 */
export async function getRevocationSnapshot(deps: Dependencies, caller: Caller, input: RevocationSnapshotPageInput): Promise<RevocationSnapshotPage> {
  const orgs = visibleOrgs(deps.orgScopes, caller, input.orgIds);
  const size = pageSize(input.pageSize, SNAPSHOT_PAGE);
  const query = queryFingerprint(["revocation-snapshot", orgs === undefined ? null : [...orgs].sort()]);
  const resume = input.pageToken === "" ? undefined : decodeSnapshotPageToken(query, input.pageToken);
  const windowMs = revocationWindowMs(deps.settings);
  const since = new Date(deps.clock.now().getTime() - windowMs - CLOCK_MARGIN_MS);
  return deps.store.snapshot(async ({ events }) => {
    const head = resume === undefined ? await events.head() : resume.cursor;
    const header = await events.snapshotHeader();
    const start: SnapshotPageState = resume ?? { cursor: head, epoch: header.feedEpoch, section: "users", after: null };
    const page = { ...header, feedEpoch: start.epoch, cursor: start.cursor, windowMs };
    const next = (section: SnapshotSection, after: SnapshotPosition | null) => encodeSnapshotPageToken(query, { ...start, section, after });
    let room = size;
    let sessionsAfter = start.after;
    let userVersions: RevocationSnapshotRows["userVersions"] = [];
    if (start.section === "users") {
      // One row more than fits tells whether another page follows, without a count.
      const users = await events.recentUserVersions(since, start.after, room + 1);
      userVersions = users.slice(0, room);
      const last = userVersions.at(-1);
      if (users.length > room && last !== undefined) return { ...page, userVersions, revokedSessions: [], nextPageToken: next("users", last.position) };
      room -= userVersions.length;
      sessionsAfter = null;
    }
    const sessions = await events.recentlyRevokedSessions(since, orgs, sessionsAfter, room + 1);
    const revokedSessions = sessions.slice(0, room);
    const more = sessions.length > room;
    const nextPageToken = more ? next("sessions", revokedSessions.at(-1)?.position ?? sessionsAfter) : "";
    return { ...page, userVersions, revokedSessions, nextPageToken };
  });
}
