import { Prisma as Sql } from "../generated/prisma/client.js";
import { auditOf, type AuditRepository } from "./audit-repository.js";
import type { Prisma } from "./database.js";
import type { NewRevocationEvent } from "./records.js";
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
  /** Every organisation the session had acted for when the event was written (includes orgId). */
  readonly orgIds: readonly string[];
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
    await this.db.revocationEvent.createMany({ data: await this.withSessionOrgs(events) });
    await this.audit.record(auditOf(events));
    this.recorded.push(...events);
  }

  /** Events another statement of this transaction wrote (SessionRepository.insertLogin): acted on after commit like recorded ones. */
  written(events: readonly NewRevocationEvent[]): void {
    this.recorded.push(...events);
  }

  /**
   * Each session event names every organisation its session has acted for:
   * access tokens issued before an organisation switch still carry the old
   * one, so watchers of each must hear the session die. A new session has
   * only ever had its current organisation, so logins cost no extra read.
   */
  private async withSessionOrgs(events: readonly NewRevocationEvent[]) {
    const lookUp = new Set<string>();
    for (const event of events) {
      if (event.sessionId !== null && event.orgIds === undefined && event.kind !== "session_created") lookUp.add(event.sessionId);
    }
    const rows = lookUp.size === 0 ? [] : await this.db.session.findMany({ where: { id: { in: [...lookUp] } }, select: { id: true, orgIds: true } });
    const orgsOf = new Map(rows.map((row) => [row.id, row.orgIds]));
    return events.map(({ orgIds, ...event }) => {
      const all = new Set(orgIds ?? (event.sessionId === null ? [] : (orgsOf.get(event.sessionId) ?? [])));
      if (event.orgId !== null) all.add(event.orgId);
      return { ...event, orgIds: [...all] };
    });
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
        org_ids: string[] | null;
        key_id: string | null;
        version: bigint | null;
        reason: string | null;
        caller: string | null;
        occurred_at: Date | null;
      }[]
    >`
      WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon)
      SELECT h.horizon, e.id, e.txid, e.kind, e.session_id::text AS session_id, e.user_id, e.org_id, e.org_ids, e.key_id, e.version, e.reason, e.caller, e.occurred_at
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
        orgIds: row.org_ids ?? (row.org_id === null ? [] : [row.org_id]),
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

  /** Everything recent a snapshot holds, unpaged (the server's own verification cache); run inside a snapshot transaction with head(). */
  async snapshot(since: Date, orgIds: readonly string[] | undefined): Promise<RevocationSnapshotRows> {
    const [header, users, sessions] = await Promise.all([
      this.snapshotHeader(),
      this.recentUserVersions(since, null, null),
      this.recentlyRevokedSessions(since, orgIds, null, null),
    ]);
    return { ...header, userVersions: users, revokedSessions: sessions };
  }

  /** The parts of a snapshot that are few: the global version, the feed's epoch, the revoked keys. */
  async snapshotHeader(): Promise<{ globalVersion: bigint; feedEpoch: number; revokedKids: string[] }> {
    const [global, keys] = await Promise.all([
      this.db.globalState.findUniqueOrThrow({ where: { id: 1 }, select: { globalVersion: true, feedEpoch: true } }),
      this.db.signingKey.findMany({ where: { revokedAt: { not: null } }, select: { kid: true }, orderBy: { kid: "asc" } }),
    ]);
    return { globalVersion: global.globalVersion, feedEpoch: global.feedEpoch, revokedKids: keys.map((key) => key.kid) };
  }

  /**
   * Users whose version was bumped since `since`, in (bumped_at, user_id)
   * order after `after`, at most `limit` (all when null). Raw SQL: the keyset
   * needs the timestamp to the microsecond (now() writes them), which
   * Prisma's Date loses, and a row comparison Prisma cannot express.
   */
  async recentUserVersions(since: Date, after: SnapshotPosition | null, limit: number | null): Promise<SnapshotUserVersion[]> {
    const rows = await this.db.$queryRaw<{ user_id: string; token_version: bigint; bumped_at: Date; micros: bigint }[]>`
      SELECT u.user_id, u.token_version, u.token_version_bumped_at AS bumped_at,
             (extract(epoch FROM u.token_version_bumped_at) * 1000000)::bigint AS micros
      FROM users u
      WHERE u.token_version_bumped_at >= ${since}
        ${after === null ? Sql.empty : Sql.sql`AND (u.token_version_bumped_at, u.user_id) > (${atMicros(after.micros)}, ${after.key})`}
      ORDER BY u.token_version_bumped_at, u.user_id
      ${limit === null ? Sql.empty : Sql.sql`LIMIT ${limit}`}`;
    return rows.map((row) => ({
      userId: row.user_id,
      tokenVersion: row.token_version,
      bumpedAt: row.bumped_at,
      position: { micros: row.micros, key: row.user_id },
    }));
  }

  /**
   * Sessions revoked since `since` that acted for one of `orgIds` (any, when
   * undefined), in (revoked_at, id) order after `after`, at most `limit`.
   * Raw SQL for the same reasons as recentUserVersions, and the array overlap.
   */
  async recentlyRevokedSessions(since: Date, orgIds: readonly string[] | undefined, after: SnapshotPosition | null, limit: number | null): Promise<SnapshotRevokedSession[]> {
    const rows = await this.db.$queryRaw<{ id: string; user_id: string; active_org_id: string | null; revoked_at: Date; revoke_reason: string | null; micros: bigint }[]>`
      SELECT s.id::text AS id, s.user_id, s.active_org_id, s.revoked_at, s.revoke_reason,
             (extract(epoch FROM s.revoked_at) * 1000000)::bigint AS micros
      FROM sessions s
      WHERE s.revoked_at >= ${since}
        ${orgIds === undefined ? Sql.empty : Sql.sql`AND s.org_ids && ${[...orgIds]}::text[]`}
        ${after === null ? Sql.empty : Sql.sql`AND (s.revoked_at, s.id) > (${atMicros(after.micros)}, ${after.key}::uuid)`}
      ORDER BY s.revoked_at, s.id
      ${limit === null ? Sql.empty : Sql.sql`LIMIT ${limit}`}`;
    return rows.map((row) => ({
      sessionId: row.id,
      userId: row.user_id,
      orgId: row.active_org_id,
      revokedAt: row.revoked_at,
      reason: row.revoke_reason ?? "",
      position: { micros: row.micros, key: row.id },
    }));
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
  readonly userVersions: SnapshotUserVersion[];
  readonly revokedSessions: SnapshotRevokedSession[];
  readonly revokedKids: string[];
}

/** Where a snapshot page ended: the last row's time (microseconds since 1970, exact) and key. */
export interface SnapshotPosition {
  readonly micros: bigint;
  readonly key: string;
}

export interface SnapshotUserVersion {
  readonly userId: string;
  readonly tokenVersion: bigint;
  readonly bumpedAt: Date;
  readonly position: SnapshotPosition;
}

export interface SnapshotRevokedSession {
  readonly sessionId: string;
  readonly userId: string;
  readonly orgId: string | null;
  readonly revokedAt: Date;
  readonly reason: string;
  readonly position: SnapshotPosition;
}

// Integer microseconds back to a timestamp without a trip through a float.
const atMicros = (micros: bigint) => Sql.sql`('1970-01-01 00:00:00+00'::timestamptz + ${micros}::bigint * interval '1 microsecond')`;

export const cursorAfterOrAt = (a: FeedCursor, b: FeedCursor) => a.txid > b.txid || (a.txid === b.txid && a.id >= b.id);
