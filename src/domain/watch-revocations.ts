import type { OrgScopes } from "../config.js";
import { cursorAfterOrAt, type FeedCursor, type StoredRevocationEvent } from "../store/event-repository.js";
import type { Store } from "../store/store.js";
import type { Caller, Clock } from "./context.js";
import { DomainError, invalidArgument } from "./errors.js";
import { parseCursor } from "./feed-cursor.js";
import { visibleOrgs } from "./org-scope.js";
import type { FeedSignal } from "./revocation-feed.js";

/** What the stream sends, with the feed epoch its cursor belongs to. */
export type WatchMessage =
  | { readonly event: StoredRevocationEvent; readonly epoch: number }
  | { readonly heartbeat: { readonly cursor: FeedCursor; readonly sentAt: Date }; readonly epoch: number };

export interface WatchDependencies {
  readonly store: Store;
  readonly clock: Clock;
  readonly feed: FeedSignal;
  readonly orgScopes: OrgScopes;
  readonly heartbeatIntervalMs: number;
}

export interface WatchInput {
  readonly cursor: string;
  /** Event kinds as stored ("session_revoked"…); empty for all. */
  readonly kinds: readonly string[];
  readonly orgIds: readonly string[];
}

const PAGE = 500;
const KINDS = new Set([
  "session_created",
  "session_revoked",
  "token_reuse",
  "grace_replay",
  "user_version",
  "global_version",
  "user_data_deleted",
  "signing_key_published",
  "signing_key_revoked",
]);
// Not tied to a session's organisation: every watcher needs them.
const EVERY_ORGANISATION = new Set(["user_version", "global_version", "user_data_deleted", "signing_key_published", "signing_key_revoked"]);

/** Where a watch starts, in which epoch; throws for a cursor the retention (or a restore) has passed. */
export async function startingCursor(store: Store, text: string): Promise<{ cursor: FeedCursor; epoch: number }> {
  const cursor = text === "" ? undefined : parseCursor(text);
  const { epoch, head, pruned, nextTxid } = await store.read(({ events }) => events.resumePoint());
  if (cursor === undefined) return { cursor: head, epoch };
  if (cursor.epoch !== epoch) {
    throw new DomainError("CURSOR_EXPIRED", "this cursor was handed out before the database was restored from a backup; call GetRevocationSnapshot and watch from its cursor");
  }
  if (!cursorAfterOrAt(cursor, pruned)) {
    throw new DomainError("CURSOR_EXPIRED", "events after this cursor were removed by retention; call GetRevocationSnapshot and watch from its cursor");
  }
  // Resuming past the database's present would skip every event until its
  // transaction ids caught up: the watcher must start over from a snapshot.
  if (cursor.txid >= nextTxid) {
    throw new DomainError("CURSOR_EXPIRED", "this cursor is ahead of the database (restored from a backup?); call GetRevocationSnapshot and watch from its cursor");
  }
  return { cursor: { txid: cursor.txid, id: cursor.id }, epoch };
}

/**
 * The feed from a cursor, filtered to what the caller may and wants to see,
 * with a heartbeat whenever nothing was sent for the heartbeat interval, and
 * one at once when the backlog is read, so a watcher knows at once that it
 * is connected and current. Runs until `signal` aborts (client gone, server
 * stopping).
 */
export async function* watchRevocations(deps: WatchDependencies, caller: Caller, input: WatchInput, signal: AbortSignal): AsyncGenerator<WatchMessage> {
  const orgs = visibleOrgs(deps.orgScopes, caller, input.orgIds);
  if (input.kinds.length > KINDS.size) throw invalidArgument("kinds", `must list at most ${KINDS.size} kinds`);
  const unknownKind = input.kinds.find((kind) => !KINDS.has(kind));
  if (unknownKind !== undefined) throw invalidArgument("kinds", "holds a kind that is not a RevocationEventKind (or is UNSPECIFIED)");
  const kinds = input.kinds.length === 0 ? undefined : new Set(input.kinds);
  // A session event reaches the watchers of every organisation the session
  // has acted for, not only its current one: its access tokens from before a
  // switch still carry the old organisation.
  const wanted = (event: StoredRevocationEvent) =>
    (kinds === undefined || kinds.has(event.kind)) &&
    (orgs === undefined || EVERY_ORGANISATION.has(event.kind) || event.orgIds.some((org) => orgs.includes(org)));
  const start = await startingCursor(deps.store, input.cursor);
  const epoch = start.epoch;
  let cursor = start.cursor;
  let lastSent = Number.NEGATIVE_INFINITY;
  while (!signal.aborted) {
    const page = await deps.store.read(({ events }) => events.readAfter(cursor, PAGE));
    for (const event of page.events) {
      if (!wanted(event)) continue;
      yield { event, epoch };
      lastSent = performance.now();
    }
    cursor = page.cursor;
    if (page.full) continue;
    const untilHeartbeat = deps.heartbeatIntervalMs - (performance.now() - lastSent);
    if (untilHeartbeat <= 0) {
      yield { heartbeat: { cursor, sentAt: deps.clock.now() }, epoch };
      lastSent = performance.now();
      continue;
    }
    if ((await deps.feed.next(untilHeartbeat, signal)) === "aborted") return;
  }
}
