import type { Prisma } from "./database.js";
import { sessionFromSqlRow, type SessionRecord, type SessionSqlRow } from "./records.js";
import type { RemainingTime, TransactionClient } from "./transaction.js";

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
  constructor(
    private readonly db: Db,
    private readonly remaining: RemainingTime = () => undefined,
  ) {}

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
    return row === undefined ? null : lockedFromRow(row);
  }

  /**
   * The hot path of RefreshTokens as one statement: lock the presented token,
   * decide on the database clock whether it may rotate, and if so spend it,
   * insert its successor and record the session's activity, returning the
   * session as it now is. Four round trips and their locks held across them
   * become one. When the token may not rotate (unknown, another caller's,
   * revoked, stale, spent, expired) nothing is written and the locked row is
   * returned for the domain to decide, still locked, in the same transaction.
   *
   * The caller's deadline travels in the statement: the lock scan sets
   * `lock_timeout` (for this statement's wait on the row) and
   * `statement_timeout` (for the rest of the transaction) before the row is
   * locked, so no separate round trip sets them. The filter runs once per
   * candidate row, and there is at most one (unique hash).
   */
  async rotateIfLive(input: {
    readonly hash: Buffer;
    readonly caller: string;
    readonly client: Buffer | null;
    readonly expectedUserId: string | null;
    readonly expectedOrgId: string | null;
    readonly successorId: string;
    readonly successorHash: Buffer;
    readonly ipAddress: string | null;
    readonly switchOrg: { orgId: string | null } | null;
  }): Promise<{ token: LockedRefreshToken | null; rotated: { session: SessionRecord; successorExpiresAt: Date } | null }> {
    const remaining = this.remaining();
    const timeout = remaining === undefined ? null : String(Math.max(1, Math.ceil(remaining)));
    const rows = await this.db.$queryRaw<(LockedRow & { successor_expires_at: Date | null; session: SessionSqlRow | null })[]>`
      WITH presented AS (
        SELECT t.id, t.session_id, t.token_version, t.global_version, t.expires_at,
               t.rotated_at, t.rotated_by, t.rotated_client, t.replay_count, t.revoked_at,
               s.user_id, s.created_by AS session_created_by, s.active_org_id AS session_active_org_id,
               s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at, s.refresh_ttl_seconds,
               u.token_version AS current_token_version, g.global_version AS current_global_version,
               now() AS transaction_started_at
        FROM refresh_tokens t
        JOIN sessions s ON s.id = t.session_id
        JOIN users u ON u.user_id = s.user_id
        JOIN global_state g ON g.id = 1
        WHERE t.token_hash = ${new Uint8Array(input.hash)}
          AND (${timeout}::text IS NULL OR (set_config('lock_timeout', ${timeout}, true) IS NOT NULL
                                             AND set_config('statement_timeout', ${timeout}, true) IS NOT NULL))
        FOR UPDATE OF t
      ), live AS (
        SELECT p.* FROM presented p
        WHERE p.rotated_at IS NULL AND p.revoked_at IS NULL AND p.session_revoked_at IS NULL
          AND p.session_created_by = ${input.caller}
          AND (${input.expectedUserId}::text IS NULL OR p.user_id = ${input.expectedUserId})
          AND (${input.expectedOrgId}::text IS NULL OR p.session_active_org_id = ${input.expectedOrgId})
          AND p.token_version >= p.current_token_version AND p.global_version >= p.current_global_version
          AND p.expires_at > p.transaction_started_at AND p.session_expires_at > p.transaction_started_at
      ), spent AS (
        -- clock_timestamp(), as in markRotated: a caller whose transaction began before this commit raced it.
        UPDATE refresh_tokens t SET rotated_at = clock_timestamp(), rotated_by = ${input.caller},
               rotated_client = ${input.client === null ? null : new Uint8Array(input.client)}
        FROM live WHERE t.id = live.id
        RETURNING t.id
      ), successor AS (
        INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, token_version, global_version, issued_at, expires_at)
        SELECT ${input.successorId}::uuid, live.session_id, live.id, ${new Uint8Array(input.successorHash)},
               live.token_version, live.global_version, now(),
               LEAST(now() + make_interval(secs => live.refresh_ttl_seconds), live.session_expires_at)
        FROM live JOIN spent ON spent.id = live.id
        RETURNING expires_at
      ), activity AS (
        UPDATE sessions s SET last_activity_at = now(), last_ip_address = COALESCE(${input.ipAddress}, s.last_ip_address),
               active_org_id = CASE WHEN ${input.switchOrg !== null} THEN ${input.switchOrg?.orgId ?? null} ELSE s.active_org_id END
        FROM live, users u, global_state g
        WHERE s.id = live.session_id AND u.user_id = s.user_id AND g.id = 1 AND EXISTS (SELECT 1 FROM successor)
        RETURNING s.*, u.token_version AS user_token_version, u.token_version_reason AS user_token_version_reason,
                  u.token_version_bumped_at AS user_token_version_bumped_at,
                  g.global_version AS current_global_version, g.reason AS global_reason, g.bumped_at AS global_bumped_at
      )
      SELECT p.*, (SELECT expires_at FROM successor) AS successor_expires_at,
             -- Versions as text: a restore fence's global version is a Unix time, and JSON numbers are doubles.
             (SELECT to_jsonb(a) || jsonb_build_object('token_version', a.token_version::text, 'global_version', a.global_version::text,
                                                       'user_token_version', a.user_token_version::text,
                                                       'current_global_version', a.current_global_version::text)
              FROM activity a) AS session
      FROM presented p`;
    const row = rows[0];
    if (row === undefined) return { token: null, rotated: null };
    const token = lockedFromRow(row);
    if (row.session === null || row.successor_expires_at === null) return { token, rotated: null };
    return { token, rotated: { session: sessionFromSqlRow(sessionSqlFromJson(row.session)), successorExpiresAt: row.successor_expires_at } };
  }

  /** The successor issued when this token was rotated, if it is still live. */
  async liveSuccessor(parentId: string): Promise<{ id: string; expiresAt: Date; hash: Buffer } | null> {
    const row = await this.db.refreshToken.findFirst({
      where: { parentId, rotatedAt: null, revokedAt: null },
      select: { id: true, expiresAt: true, tokenHash: true },
    });
    return row === null ? null : { id: row.id, expiresAt: row.expiresAt, hash: Buffer.from(row.tokenHash) };
  }

  async countReplay(id: string): Promise<void> {
    await this.db.refreshToken.update({ where: { id }, data: { replayCount: { increment: 1 } } });
  }

}

function lockedFromRow(row: LockedRow): LockedRefreshToken {
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

/**
 * The session row as `to_jsonb` renders it: one column, so it cannot collide
 * with the presented token's columns. JSON has no bigint or timestamp: they
 * come back as numbers and strings and are restored here.
 */
function sessionSqlFromJson(json: SessionSqlRow): SessionSqlRow {
  const raw = json as unknown as Record<string, unknown>;
  const date = (value: unknown) => (value === null || value === undefined ? null : new Date(String(value)));
  const big = (value: unknown) => BigInt(String(value));
  return {
    ...json,
    auth_time: new Date(String(raw["auth_time"])),
    last_provider_sync_at: date(raw["last_provider_sync_at"]),
    created_at: new Date(String(raw["created_at"])),
    last_activity_at: new Date(String(raw["last_activity_at"])),
    expires_at: new Date(String(raw["expires_at"])),
    revoked_at: date(raw["revoked_at"]),
    client_info_erased_at: date(raw["client_info_erased_at"]),
    user_token_version_bumped_at: date(raw["user_token_version_bumped_at"]),
    global_bumped_at: date(raw["global_bumped_at"]),
    token_version: big(raw["token_version"]),
    global_version: big(raw["global_version"]),
    user_token_version: big(raw["user_token_version"]),
    current_global_version: big(raw["current_global_version"]),
  };
}
