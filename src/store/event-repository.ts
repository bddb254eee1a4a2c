import { auditOf, type AuditRepository } from "./audit-repository.js";
import type { Prisma } from "./database.js";
import type { NewRevocationEvent } from "./records.js";
import { inOrgs } from "./session-repository.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

/** A position in the feed: everything at or before it has been read. */
export interface FeedCursor {
  readonly txid: bigint;
  readonly id: bigint;
}

export interface StoredRevocationEvent {
  readonly cursor: FeedCursor;
  readonly kind: string;
  readonly sessionId: string | null;
  readonly userId: string | null;
  readonly orgId: string | null;
  readonly keyId: string | null;
  readonly version: bigint | null;
  readonly reason: string;
  readonly caller: string;
  readonly occurredAt: Date;
}

export interface FeedPage {
  readonly events: StoredRevocationEvent[];
  /** Where the next read starts: past every event returned and every finished transaction below the horizon. */
  readonly cursor: FeedCursor;
  /** Some events are committed or in flight beyond the horizon: read again soon. */
  readonly heldBack: boolean;
  /**
   * Committed events beyond the horizon, visible already but not yet in
   * cursor order. A cache may apply them early (applying a revocation twice
   * is harmless); a stream must wait for them to come in order.
   */
  readonly pending: StoredRevocationEvent[];
  /** The page was full: read again at once. */
  readonly full: boolean;
}

const MAX_ID = 2n ** 63n - 1n;

export class EventRepository {
  /** `recorded` collects what this transaction wrote, for the caller to act on once it commits. */
  constructor(
    private readonly db: Db,
    private readonly audit: AuditRepository,
    private readonly recorded: NewRevocationEvent[] = [],
  ) {}

  /** Every revocation is audited in the same transaction: the audit cannot miss one that happened, nor hold one that did not. */
  async record(events: readonly NewRevocationEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.revocationEvent.createMany({ data: [...events] });
    await this.audit.record(auditOf(events));
    this.recorded.push(...events);
  }

  /**
   * Events after `cursor`, in (txid, id) order, up to the horizon: the oldest
   * transaction still running when this statement's snapshot was taken. Every
   * transaction below it has finished, so no event can later appear below a
   * cursor we hand out; events at or above it wait for the next read. Raw SQL:
   * Prisma has no row comparison, no LATERAL and no snapshot functions.
   */
  async readAfter(cursor: FeedCursor, limit: number): Promise<FeedPage> {
    const rows = await this.db.$queryRaw<
      {
        horizon: bigint;
        id: bigint | null;
        txid: bigint | null;
        kind: string | null;
        session_id: string | null;
        user_id: string | null;
        org_id: string | null;
        key_id: string | null;
        version: bigint | null;
        reason: string | null;
        caller: string | null;
        occurred_at: Date | null;
      }[]
    >`
      WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon)
      SELECT h.horizon, e.id, e.txid, e.kind, e.session_id::text AS session_id, e.user_id, e.org_id, e.key_id, e.version, e.reason, e.caller, e.occurred_at
      FROM h LEFT JOIN LATERAL (
        SELECT * FROM revocation_events
        WHERE (txid, id) > (${cursor.txid}, ${cursor.id})
        ORDER BY txid, id
        LIMIT ${limit}
      ) e ON true`;
    const horizon = rows[0]?.horizon ?? 0n;
    const events: StoredRevocationEvent[] = [];
    const pending: StoredRevocationEvent[] = [];
    for (const row of rows) {
      if (row.id === null || row.txid === null) continue;
      (row.txid >= horizon ? pending : events).push({
        cursor: { txid: row.txid, id: row.id },
        kind: row.kind ?? "",
        sessionId: row.session_id,
        userId: row.user_id,
        orgId: row.org_id,
        keyId: row.key_id,
        version: row.version,
        reason: row.reason ?? "",
        caller: row.caller ?? "",
        occurredAt: row.occurred_at ?? new Date(0),
      });
    }
    const heldBack = pending.length > 0;
    const full = rows.length >= limit && !heldBack;
    const last = events.at(-1)?.cursor ?? cursor;
    // With the page neither full nor held back, every transaction below the
    // horizon has been read: skip ahead to it, so an idle feed's cursor moves.
    const cursorAfter = full || heldBack || horizon - 1n <= last.txid ? last : { txid: horizon - 1n, id: MAX_ID };
    return { events, pending, cursor: cursorAfter, heldBack, full };
  }

  /** What revoked tokens recently; run inside a snapshot transaction with head(). */
  async snapshot(since: Date, orgIds: readonly string[] | undefined): Promise<RevocationSnapshotRows> {
    const [global, users, sessions, keys] = await Promise.all([
      this.db.globalState.findUniqueOrThrow({ where: { id: 1 }, select: { globalVersion: true, feedEpoch: true } }),
      this.db.user.findMany({ where: { tokenVersionBumpedAt: { gte: since } }, select: { userId: true, tokenVersion: true, tokenVersionBumpedAt: true } }),
      this.db.session.findMany({
        where: { revokedAt: { gte: since }, ...inOrgs(orgIds) },
        select: { id: true, userId: true, activeOrgId: true, revokedAt: true, revokeReason: true },
      }),
      this.db.signingKey.findMany({ where: { revokedAt: { not: null } }, select: { kid: true } }),
    ]);
    return {
      globalVersion: global.globalVersion,
      feedEpoch: global.feedEpoch,
      userVersions: users.map((user) => ({ userId: user.userId, tokenVersion: user.tokenVersion, bumpedAt: user.tokenVersionBumpedAt ?? since })),
      revokedSessions: sessions.map((session) => ({
        sessionId: session.id,
        userId: session.userId,
        orgId: session.activeOrgId,
        revokedAt: session.revokedAt ?? since,
        reason: session.revokeReason ?? "",
      })),
      revokedKids: keys.map((key) => key.kid),
    };
  }

  /** The cursor of "now": events committed from here on will follow it. */
  async head(): Promise<FeedCursor> {
    const rows = await this.db.$queryRaw<{ horizon: bigint }[]>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon`;
    return { txid: (rows[0]?.horizon ?? 1n) - 1n, id: MAX_ID };
  }

  /**
   * What a watch needs to judge a cursor, read by one statement so all of it
   * describes the same moment: the feed's epoch, "now" (as head()), the
   * pruned mark, and the first transaction id not yet assigned (no event
   * has a txid at or above it; a cursor beyond it was handed out by a
   * database since replaced by an older copy, a restored backup).
   */
  async resumePoint(): Promise<{ epoch: number; head: FeedCursor; pruned: FeedCursor; nextTxid: bigint }> {
    const rows = await this.db.$queryRaw<{ feed_epoch: number; events_pruned_txid: bigint; events_pruned_id: bigint; horizon: bigint; next: bigint }[]>`
      SELECT g.feed_epoch, g.events_pruned_txid, g.events_pruned_id,
             pg_snapshot_xmin(s.s)::text::bigint AS horizon, pg_snapshot_xmax(s.s)::text::bigint AS next
      FROM global_state g CROSS JOIN (SELECT pg_current_snapshot() AS s) s WHERE g.id = 1`;
    const row = rows[0];
    if (row === undefined) throw new Error("global_state row is missing");
    return {
      epoch: row.feed_epoch,
      head: { txid: row.horizon - 1n, id: MAX_ID },
      pruned: { txid: row.events_pruned_txid, id: row.events_pruned_id },
      nextTxid: row.next,
    };
  }

  /** Which feed cursors belong to: set anew by a restore fence, so older cursors cannot resume. */
  async feedEpoch(): Promise<number> {
    const row = await this.db.globalState.findUniqueOrThrow({ where: { id: 1 }, select: { feedEpoch: true } });
    return row.feedEpoch;
  }

  /**
   * After a restore: the copy's events (their transaction ids from another
   * timeline, perhaps another cluster) are dropped, the pruned mark cleared,
   * and a new epoch set, so every earlier cursor is refused and watchers
   * start over from a snapshot.
   */
  async startNewEpoch(epoch: number): Promise<void> {
    // Raw: TRUNCATE, not a DELETE of every row, which on a busy service's
    // week of events would outlast the transaction's time limit. Its table
    // lock is harmless here: the fence runs with no replica serving.
    await this.db.$executeRaw`TRUNCATE revocation_events`;
    await this.db.globalState.update({ where: { id: 1 }, data: { feedEpoch: epoch, eventsPrunedTxid: 0n, eventsPrunedId: 0n } });
  }

  /** Deletes up to `batch` events older than `before`, moving the pruned mark; returns how many. */
  async prune(before: Date, batch: number): Promise<number> {
    const rows = await this.db.$queryRaw<{ deleted: number }[]>`
      WITH doomed AS (
        SELECT id, txid FROM revocation_events WHERE occurred_at < ${before} ORDER BY txid, id LIMIT ${batch}
      ), gone AS (
        DELETE FROM revocation_events e USING doomed d WHERE e.id = d.id RETURNING d.txid, d.id
      ), newest AS (
        SELECT txid, id FROM gone ORDER BY txid DESC, id DESC LIMIT 1
      ), marked AS (
        UPDATE global_state g SET events_pruned_txid = n.txid, events_pruned_id = n.id
        FROM newest n WHERE g.id = 1 AND (n.txid, n.id) > (g.events_pruned_txid, g.events_pruned_id)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM gone)::int AS deleted`;
    return rows[0]?.deleted ?? 0;
  }
}

export interface RevocationSnapshotRows {
  readonly globalVersion: bigint;
  /** The feed's epoch, which the snapshot's cursor belongs to. */
  readonly feedEpoch: number;
  readonly userVersions: { userId: string; tokenVersion: bigint; bumpedAt: Date }[];
  readonly revokedSessions: { sessionId: string; userId: string; orgId: string | null; revokedAt: Date; reason: string }[];
  readonly revokedKids: string[];
}

export const cursorAfterOrAt = (a: FeedCursor, b: FeedCursor) => a.txid > b.txid || (a.txid === b.txid && a.id >= b.id);
