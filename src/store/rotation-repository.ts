import type { Prisma } from "./database.js";
import { sessionFromSqlRow, type SessionRecord, type SessionSqlRow } from "./records.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

/** The presented token, locked, with everything the rotation decides on. */
export interface LockedRefreshToken {
  readonly id: string;
  readonly sessionId: string;
  readonly tokenVersion: bigint;
  readonly globalVersion: bigint;
  readonly expiresAt: Date;
  readonly rotatedAt: Date | null;
  readonly rotatedBy: string | null;
  readonly rotatedClient: Buffer | null;
  readonly replayCount: number;
  readonly revokedAt: Date | null;
  readonly userId: string;
  readonly sessionCreatedBy: string;
  readonly sessionActiveOrgId: string | null;
  readonly sessionExpiresAt: Date;
  readonly sessionRevokedAt: Date | null;
  readonly refreshTtlSeconds: number;
  readonly currentTokenVersion: bigint;
  readonly currentGlobalVersion: bigint;
  /** When this transaction began, by the database clock. */
  readonly transactionStartedAt: Date;
}

interface LockedRow {
  id: string;
  session_id: string;
  token_version: bigint;
  global_version: bigint;
  expires_at: Date;
  rotated_at: Date | null;
  rotated_by: string | null;
  rotated_client: Buffer | Uint8Array | null;
  replay_count: number;
  revoked_at: Date | null;
  user_id: string;
  session_created_by: string;
  session_active_org_id: string | null;
  session_expires_at: Date;
  session_revoked_at: Date | null;
  refresh_ttl_seconds: number;
  current_token_version: bigint;
  current_global_version: bigint;
  transaction_started_at: Date;
}

/**
 * The statements of a refresh-token rotation. Raw SQL because every state
 * decision uses the database clock (replicas' clocks may disagree) and the
 * lock must be taken by hash with no condition on the token's state.
 */
export class RotationRepository {
  constructor(private readonly db: Db) {}

  /**
   * Locks the token by its hash alone. A condition such as "not rotated" would
   * make callers queued behind a winning rotation find no row and look like
   * thieves; locking unconditionally lets each of them see why it lost.
   */
  async lockByHash(hash: Buffer): Promise<LockedRefreshToken | null> {
    const rows = await this.db.$queryRaw<LockedRow[]>`
      SELECT t.id, t.session_id, t.token_version, t.global_version, t.expires_at,
             t.rotated_at, t.rotated_by, t.rotated_client, t.replay_count, t.revoked_at,
             s.user_id, s.created_by AS session_created_by, s.active_org_id AS session_active_org_id,
             s.expires_at AS session_expires_at,
             s.revoked_at AS session_revoked_at, s.refresh_ttl_seconds,
             u.token_version AS current_token_version, g.global_version AS current_global_version,
             now() AS transaction_started_at
      FROM refresh_tokens t
      JOIN sessions s ON s.id = t.session_id
      JOIN users u ON u.user_id = s.user_id
      JOIN global_state g ON g.id = 1
      WHERE t.token_hash = ${new Uint8Array(hash)}
      FOR UPDATE OF t`;
    const row = rows[0];
    if (row === undefined) return null;
    return {
      id: row.id,
      sessionId: row.session_id,
      tokenVersion: row.token_version,
      globalVersion: row.global_version,
      expiresAt: row.expires_at,
      rotatedAt: row.rotated_at,
      rotatedBy: row.rotated_by,
      rotatedClient: row.rotated_client === null ? null : Buffer.from(row.rotated_client),
      replayCount: row.replay_count,
      revokedAt: row.revoked_at,
      userId: row.user_id,
      sessionCreatedBy: row.session_created_by,
      sessionActiveOrgId: row.session_active_org_id,
      sessionExpiresAt: row.session_expires_at,
      sessionRevokedAt: row.session_revoked_at,
      refreshTtlSeconds: row.refresh_ttl_seconds,
      currentTokenVersion: row.current_token_version,
      currentGlobalVersion: row.current_global_version,
      transactionStartedAt: row.transaction_started_at,
    };
  }

  /** The successor issued when this token was rotated, if it is still live. */
  async liveSuccessor(parentId: string): Promise<{ id: string; expiresAt: Date } | null> {
    return this.db.refreshToken.findFirst({
      where: { parentId, rotatedAt: null, revokedAt: null },
      select: { id: true, expiresAt: true },
    });
  }

  /**
   * Guarded: true only if the token was still live, so a rotation racing
   * another one (or a login replay) never forks the family. clock_timestamp(),
   * not now(): a rotation that commits after another caller's transaction
   * began must carry a later time, which is how that caller knows it raced
   * (and was not replaying an old token).
   *
   * "Neither rotated nor revoked" is written as one COALESCE on purpose: as
   * `rotated_at IS NULL AND revoked_at IS NULL` it matches the predicate of
   * the one-live-token-per-session partial index, and with no statistics yet
   * (a fresh or bulk-loaded table, before autoanalyze) the planner tied that
   * index with the primary key and scanned every live token: 95 ms per
   * rotation at 100,000 sessions instead of 0.1 ms (EXPLAIN ANALYZE, `npm run bench`).
   */
  async markRotated(id: string, caller: string, client: Buffer | null): Promise<boolean> {
    const changed = await this.db.$executeRaw`
      UPDATE refresh_tokens SET rotated_at = clock_timestamp(), rotated_by = ${caller},
             rotated_client = ${client === null ? null : new Uint8Array(client)}
      WHERE id = ${id}::uuid AND COALESCE(rotated_at, revoked_at) IS NULL`;
    return changed === 1;
  }

  /** The successor inherits the parent's stamped versions: a bump during the rotation is not survived. */
  async insertSuccessor(token: {
    id: string;
    sessionId: string;
    parentId: string;
    hash: Buffer;
    tokenVersion: bigint;
    globalVersion: bigint;
    refreshTtlSeconds: number;
    sessionExpiresAt: Date;
  }): Promise<{ expiresAt: Date }> {
    const rows = await this.db.$queryRaw<{ expires_at: Date }[]>`
      INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, token_version, global_version, issued_at, expires_at)
      VALUES (${token.id}::uuid, ${token.sessionId}::uuid, ${token.parentId}::uuid, ${new Uint8Array(token.hash)},
              ${token.tokenVersion}, ${token.globalVersion}, now(),
              LEAST(now() + make_interval(secs => ${token.refreshTtlSeconds}), ${token.sessionExpiresAt}))
      RETURNING expires_at`;
    const row = rows[0];
    if (row === undefined) throw new Error("successor insert returned no row");
    return { expiresAt: row.expires_at };
  }

  async countReplay(id: string): Promise<void> {
    await this.db.refreshToken.update({ where: { id }, data: { replayCount: { increment: 1 } } });
  }

  /**
   * Rotation is activity: last activity (database time), the client's IP when
   * sent, and the organisation when the caller switches it. Returns the
   * session as it now is, read by the same statement: the answer and the
   * access token need it, and reading it afterwards cost two more round
   * trips and a pooled connection per rotation.
   */
  async recordActivity(sessionId: string, ipAddress: string | null, switchOrg: { orgId: string | null } | null): Promise<SessionRecord> {
    const rows = await this.db.$queryRaw<SessionSqlRow[]>`
      UPDATE sessions s SET last_activity_at = now(), last_ip_address = COALESCE(${ipAddress}, s.last_ip_address),
             active_org_id = CASE WHEN ${switchOrg !== null} THEN ${switchOrg?.orgId ?? null} ELSE s.active_org_id END
      FROM users u, global_state g
      WHERE s.id = ${sessionId}::uuid AND u.user_id = s.user_id AND g.id = 1
      RETURNING s.*, u.token_version AS user_token_version, u.token_version_reason AS user_token_version_reason,
                u.token_version_bumped_at AS user_token_version_bumped_at,
                g.global_version AS current_global_version, g.reason AS global_reason, g.bumped_at AS global_bumped_at`;
    const row = rows[0];
    if (row === undefined) throw new Error("the rotated token's session is gone");
    return sessionFromSqlRow(row);
  }
}
