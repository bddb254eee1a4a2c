import type { FeedCursor, RevocationSnapshotRows } from "../store/event-repository.js";
import type { Store } from "../store/store.js";
import type { Caller, Clock } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { visibleOrgs } from "./org-scope.js";

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

/** GetRevocationSnapshot: the snapshot limited to the organisations the caller may see. */
export function getRevocationSnapshot(deps: Dependencies, caller: Caller, orgIds: readonly string[]): Promise<RevocationSnapshot> {
  const orgs = visibleOrgs(deps.orgScopes, caller, orgIds);
  return readRevocationSnapshot(deps.store, deps.clock, revocationWindowMs(deps.settings), orgs);
}
