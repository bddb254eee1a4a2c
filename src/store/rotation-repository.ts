import type { Prisma } from "./database.js";
import { sessionFromSqlRow, type SessionRecord, type SessionSqlRow } from "./records.js";
import { timeoutSetting, type RemainingTime, type TransactionClient } from "./transaction.js";

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
   * The hot path of RefreshTokens as one call: lock the presented token,
   * decide on the database clock whether it may rotate, and if so spend it,
   * insert its successor and record the session's activity, returning the
   * session as it now is. Four round trips and their locks held across them
   * become one. When the token may not rotate (unknown, another caller's,
   * revoked, stale, spent, expired) nothing is written and the locked row is
   * returned for the domain to decide, still locked, in the same transaction.
   *
   * A PL/pgSQL function (migration rotation_function), not a statement sent
   * whole: sent as one data-modifying statement it was planned on every call,
   * which cost the database more than running it. The caller's deadline goes
   * in as an argument: the function sets `lock_timeout` before it waits on the
   * row and `statement_timeout` for the rest of the transaction, so no
   * separate round trip sets them.
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
    const timeout = timeoutSetting(this.remaining());
    // The function (migration rotation_function) keeps its plans per connection; see there for why.
    const rows = await this.db.$queryRaw<(LockedRow & { successor_expires_at: Date | null; session: SessionJsonRow | null })[]>`
      SELECT o_id AS id, o_session_id AS session_id, o_token_version AS token_version, o_global_version AS global_version,
             o_expires_at AS expires_at, o_rotated_at AS rotated_at, o_rotated_by AS rotated_by, o_rotated_client AS rotated_client,
             o_replay_count AS replay_count, o_revoked_at AS revoked_at, o_user_id AS user_id, o_session_created_by AS session_created_by,
             o_session_active_org_id AS session_active_org_id, o_session_expires_at AS session_expires_at,
             o_session_revoked_at AS session_revoked_at, o_refresh_ttl_seconds AS refresh_ttl_seconds,
             o_current_token_version AS current_token_version, o_current_global_version AS current_global_version,
             o_transaction_started_at AS transaction_started_at, o_successor_expires_at AS successor_expires_at, o_session AS session
      FROM rotate_refresh_token_if_live(
        ${new Uint8Array(input.hash)}, ${input.caller}, ${input.client === null ? null : new Uint8Array(input.client)}::bytea,
        ${input.expectedUserId}::text, ${input.expectedOrgId}::text, ${input.successorId}::uuid, ${new Uint8Array(input.successorHash)},
        ${input.ipAddress}::text, ${input.switchOrg !== null}, ${input.switchOrg?.orgId ?? null}::text, ${timeout}::text)`;
    const row = rows[0];
    if (row === undefined) return { token: null, rotated: null };
    const token = lockedFromRow(row);
    if (row.session === null || row.successor_expires_at === null) return { token, rotated: null };
    // Rotated means live: the versions it was checked against are the current ones, and no bump's reason applies.
    const session = sessionFromSqlRow({
      ...sessionSqlFromJson(row.session),
      user_token_version: token.currentTokenVersion,
      user_token_version_reason: null,
      user_token_version_bumped_at: null,
      current_global_version: token.currentGlobalVersion,
      global_reason: null,
      global_bumped_at: null,
    });
    return { token, rotated: { session, successorExpiresAt: row.successor_expires_at } };
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

/** The user's and the global version state a session row is read with. */
type VersionColumns =
  | "user_token_version"
  | "user_token_version_reason"
  | "user_token_version_bumped_at"
  | "current_global_version"
  | "global_reason"
  | "global_bumped_at";
/** A sessions row as to_jsonb renders it. */
type SessionJsonRow = Omit<SessionSqlRow, VersionColumns>;

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
function sessionSqlFromJson(json: SessionJsonRow): Omit<SessionSqlRow, VersionColumns> {
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
    token_version: big(raw["token_version"]),
    global_version: big(raw["global_version"]),
  };
}
