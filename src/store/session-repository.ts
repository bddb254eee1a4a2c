import type { Prisma as PrismaNamespace } from "../generated/prisma/client.js";
import { timeoutSetting, type RemainingTime, type TransactionClient } from "./transaction.js";
import type { Prisma } from "./database.js";
import {
  sessionFromSqlRow,
  toSessionRecord,
  userVersionSelect,
  type GlobalVersionState,
  type NewSession,
  type SessionChanges,
  type SessionPageCursor,
  type SessionRecord,
  type SessionSqlRow,
} from "./records.js";

type Db = Prisma | TransactionClient;

const active = (now: Date) => ({ revokedAt: null, expiresAt: { gt: now } });

/** The versions a session must carry to be live: the user's and the global one. */
export interface VersionFloor {
  readonly tokenVersion: bigint;
  readonly globalVersion: bigint;
}

const notStale = (floor: VersionFloor) => ({ tokenVersion: { gte: floor.tokenVersion }, globalVersion: { gte: floor.globalVersion } });

/** Sessions and the rows that live and die with them. */
export class SessionRepository {
  constructor(
    private readonly db: Db,
    private readonly remaining: RemainingTime = () => undefined,
  ) {}

  /**
   * Creates the user's row if needed and locks it until the transaction ends:
   * concurrent logins of one user queue here, so the session limit and the
   * idempotency check see each other's work. Returns the versions a new
   * session is stamped with.
   */
  async lockUser(userId: string): Promise<{ tokenVersion: bigint; globalVersion: bigint }> {
    // Raw: one round trip instead of three. ON CONFLICT DO UPDATE takes the
    // same row lock as SELECT … FOR UPDATE (which Prisma cannot express).
    const rows = await this.db.$queryRaw<{ token_version: bigint; global_version: bigint }[]>`
      WITH locked AS (
        INSERT INTO users (user_id) VALUES (${userId})
        ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
        RETURNING token_version
      )
      SELECT locked.token_version, global_state.global_version FROM locked, global_state WHERE global_state.id = 1`;
    const row = rows[0];
    if (row === undefined) throw new Error("global_state row is missing");
    return { tokenVersion: row.token_version, globalVersion: row.global_version };
  }

  async currentGlobal(): Promise<GlobalVersionState> {
    return this.db.globalState.findUniqueOrThrow({ where: { id: 1 }, select: { globalVersion: true, reason: true, bumpedAt: true } });
  }

  /** The versions below which a user's sessions and tokens are dead. */
  async versionFloor(userId: string): Promise<VersionFloor> {
    return (await this.floorWithGlobal(userId)).floor;
  }

  private async floorWithGlobal(userId: string): Promise<{ floor: VersionFloor; global: GlobalVersionState }> {
    const [user, global] = await Promise.all([
      this.db.user.findUnique({ where: { userId }, select: { tokenVersion: true } }),
      this.currentGlobal(),
    ]);
    return { floor: { tokenVersion: user?.tokenVersion ?? 0n, globalVersion: global.globalVersion }, global };
  }

  async findById(id: string): Promise<SessionRecord | null> {
    return (await this.findWithFloor(id))?.session ?? null;
  }

  /** The session and its user's version floor, read together (the row already carries the user's version). */
  async findWithFloor(id: string): Promise<{ session: SessionRecord; floor: VersionFloor } | null> {
    const [row, global] = await Promise.all([
      this.db.session.findUnique({ where: { id }, include: userVersionSelect }),
      this.currentGlobal(),
    ]);
    if (row === null) return null;
    return { session: toSessionRecord(row, global), floor: { tokenVersion: row.user.tokenVersion, globalVersion: global.globalVersion } };
  }

  async findByIdempotencyKey(userId: string, key: string): Promise<SessionRecord | null> {
    const [row, global] = await Promise.all([
      this.db.session.findFirst({ where: { userId, idempotencyKey: key }, include: userVersionSelect }),
      this.currentGlobal(),
    ]);
    return row === null ? null : toSessionRecord(row, global);
  }

  /** Frees an expired idempotency key so a new login may use it (the key is unique per user). */
  async forgetIdempotencyKey(id: string): Promise<void> {
    await this.db.session.update({ where: { id }, data: { idempotencyKey: null } });
  }

  /** Active sessions of a user, oldest first: the eviction order of the session limit. */
  async activeSessionIdsOldestFirst(userId: string, now: Date, floor: VersionFloor): Promise<string[]> {
    const rows = await this.db.session.findMany({
      where: { userId, ...active(now), ...notStale(floor) },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  /** Sessions live right now: not revoked, not expired, not killed by a version bump (the active-sessions gauge). */
  async countActive(now: Date): Promise<number> {
    // Raw: "not killed by a version bump" compares the session's stamped
    // versions with its user's row and the global row, which Prisma's where
    // clauses cannot express.
    const rows = await this.db.$queryRaw<{ active: bigint }[]>`
      SELECT count(*) AS active
      FROM sessions s JOIN users u ON u.user_id = s.user_id CROSS JOIN global_state g
      WHERE s.revoked_at IS NULL AND s.expires_at > ${now}
        AND s.token_version >= u.token_version AND s.global_version >= g.global_version`;
    return Number(rows[0]?.active ?? 0n);
  }

  /**
   * A login as one statement: lock (or create) the user's row, stamp the
   * session with the user's and the global version, insert it, its first
   * refresh token and its session_created event. What used to be five round
   * trips (and the user's lock held across them) is one. Raw because Prisma
   * cannot chain inserts through a CTE. The caller's deadline travels in it
   * as in RotationRepository.rotateIfLive: `lock_timeout` is set before the
   * user's row is locked (another login of the same user may hold it), and
   * `statement_timeout` for anything the transaction runs after.
   */
  async insertLogin(
    session: Omit<NewSession, "tokenVersion" | "globalVersion">,
    token: { readonly id: string; readonly hash: Buffer; readonly expiresAt: Date },
  ): Promise<SessionRecord> {
    const timeout = timeoutSetting(this.remaining());
    const rows = await this.db.$queryRaw<SessionSqlRow[]>`
      WITH u AS (
        INSERT INTO users (user_id)
        SELECT ${session.userId}
        WHERE ${timeout}::text IS NULL OR (set_config('lock_timeout', ${timeout}, true) IS NOT NULL
                                            AND set_config('statement_timeout', ${timeout}, true) IS NOT NULL)
        ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
        RETURNING user_id, token_version, token_version_reason, token_version_bumped_at
      ), g AS (
        SELECT global_version, reason, bumped_at FROM global_state WHERE id = 1
      ), s AS (
        INSERT INTO sessions (id, user_id, active_org_id, device_name, user_agent, ip_address, last_ip_address, location, is_trusted,
                              amr, acr, auth_time, extra_claims, created_by, idempotency_key, token_version, global_version,
                              refresh_ttl_seconds, created_at, last_activity_at, expires_at)
        SELECT ${session.id}::uuid, u.user_id, ${session.activeOrgId}, ${session.deviceName}, ${session.userAgent}, ${session.ipAddress},
               ${session.ipAddress}, ${session.location}, ${session.isTrusted}, ${[...session.amr]}::text[], ${session.acr}, ${session.authTime},
               ${JSON.stringify(session.extraClaims)}::jsonb, ${session.createdBy}, ${session.idempotencyKey}, u.token_version, g.global_version,
               ${session.refreshTtlSeconds}, ${session.createdAt}, ${session.createdAt}, ${session.expiresAt}
        FROM u, g
        RETURNING *
      ), t AS (
        INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, token_version, global_version, issued_at, expires_at)
        SELECT ${token.id}::uuid, s.id, NULL, ${new Uint8Array(token.hash)}, s.token_version, s.global_version, ${session.createdAt}, ${token.expiresAt}
        FROM s
        RETURNING id
      ), e AS (
        INSERT INTO revocation_events (kind, session_id, user_id, org_id, org_ids, reason, caller)
        SELECT 'session_created', s.id, s.user_id, s.active_org_id, s.org_ids, 'login', ${session.createdBy}
        FROM s
        RETURNING id
      )
      SELECT s.*, u.token_version AS user_token_version, u.token_version_reason AS user_token_version_reason,
             u.token_version_bumped_at AS user_token_version_bumped_at,
             g.global_version AS current_global_version, g.reason AS global_reason, g.bumped_at AS global_bumped_at
      FROM s, u, g
      WHERE EXISTS (SELECT 1 FROM t) AND EXISTS (SELECT 1 FROM e)`;
    const row = rows[0];
    if (row === undefined) throw new Error("the login statement inserted no session");
    return sessionFromSqlRow(row);
  }

  /** Marks the given sessions revoked (those not already) and kills their live tokens. */
  async revoke(ids: readonly string[], reason: string, now: Date): Promise<SessionRecord[]> {
    if (ids.length === 0) return [];
    // RETURNING only the rows this statement changed tells us exactly which
    // sessions we revoked, even when another call revokes some at the same time.
    // Sessions a version bump already killed keep that as their reason.
    const revoked = await this.db.$queryRaw<{ id: string }[]>`
      UPDATE sessions s SET revoked_at = ${now}, revoke_reason = ${reason}
      FROM users u, global_state g
      WHERE s.id = ANY(${[...ids]}::uuid[]) AND s.revoked_at IS NULL
        AND u.user_id = s.user_id AND g.id = 1
        AND s.token_version >= u.token_version AND s.global_version >= g.global_version
      RETURNING s.id`;
    const revokedIds = revoked.map((row) => row.id);
    if (revokedIds.length === 0) return [];
    await this.db.refreshToken.updateMany({
      where: { sessionId: { in: revokedIds }, revokedAt: null, rotatedAt: null },
      data: { revokedAt: now, revokeReason: reason },
    });
    const [rows, global] = await Promise.all([
      this.db.session.findMany({ where: { id: { in: revokedIds } }, include: userVersionSelect }),
      this.currentGlobal(),
    ]);
    return rows.map((row) => toSessionRecord(row, global));
  }

  async activeSessionIdsOfUser(userId: string, now: Date, exceptId: string | null, reach: SessionReach = {}): Promise<string[]> {
    const floor = await this.versionFloor(userId);
    const rows = await this.db.session.findMany({
      where: { userId, ...active(now), ...notStale(floor), ...(exceptId === null ? {} : { id: { not: exceptId } }), ...withinReach(reach) },
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  async list(userId: string, includeInactive: boolean, now: Date, after: SessionPageCursor | null, take: number, reach: SessionReach = {}) {
    const keyset = after === null ? {} : {
      OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
    };
    const { floor, global } = await this.floorWithGlobal(userId);
    const rows = await this.db.session.findMany({
      where: { userId, ...(includeInactive ? {} : { ...active(now), ...notStale(floor) }), ...keyset, ...withinReach(reach) },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      include: userVersionSelect,
      take,
    });
    return rows.map((row) => toSessionRecord(row, global));
  }

  /** An organisation's sessions in every state, newest first (the operator's `sessions find --org`). */
  async listByOrg(orgId: string, take: number): Promise<SessionRecord[]> {
    const [rows, global] = await Promise.all([
      this.db.session.findMany({ where: { activeOrgId: orgId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], include: userVersionSelect, take }),
      this.currentGlobal(),
    ]);
    return rows.map((row) => toSessionRecord(row, global));
  }

  /**
   * Records activity unless a recent touch already did; one guarded UPDATE, so
   * concurrent touches never lose a write and coalesced ones cost no write.
   */
  async touch(id: string, now: Date, ipAddress: string | null, coalesceBefore: Date, reach: SessionReach = {}): Promise<boolean> {
    const changed = await this.db.session.updateMany({
      where: {
        id,
        ...active(now),
        ...withinReach(reach),
        OR: [
          { lastActivityAt: { lt: coalesceBefore } },
          ...(ipAddress === null ? [] : [{ lastIpAddress: null }, { NOT: { lastIpAddress: ipAddress } }]),
        ],
      },
      data: { lastActivityAt: now, ...(ipAddress === null ? {} : { lastIpAddress: ipAddress }) },
    });
    return changed.count === 1;
  }

  async update(id: string, now: Date, changes: SessionChanges): Promise<boolean> {
    const { amr, extraClaims, ...scalars } = changes;
    const changed = await this.db.session.updateMany({
      where: { id, ...active(now) },
      data: {
        ...scalars,
        ...(amr === undefined ? {} : { amr: [...amr] }),
        ...(extraClaims === undefined ? {} : { extraClaims: extraClaims as PrismaNamespace.InputJsonObject }),
      },
    });
    return changed.count === 1;
  }

  /** Re-stamps a session with the user's new token version (the session kept by a password change). */
  async restamp(id: string, tokenVersion: bigint): Promise<void> {
    await this.db.session.update({ where: { id }, data: { tokenVersion } });
  }

  /**
   * Deletes, in one bounded batch, sessions (and by cascade their tokens)
   * that ended before `endedBefore`: revoked, expired, or killed by a version
   * bump. Until then every token of a family is kept, so a replayed old token
   * is recognised as reuse instead of looking unknown.
   */
  async deleteEndedBefore(endedBefore: Date, batchSize: number): Promise<number> {
    // Raw: the derived end (a version bump) needs the join with users and global_state.
    return this.db.$executeRaw`
      DELETE FROM sessions WHERE id IN (
        SELECT s.id FROM sessions s
        JOIN users u ON u.user_id = s.user_id
        JOIN global_state g ON g.id = 1
        WHERE s.revoked_at < ${endedBefore}
           OR s.expires_at < ${endedBefore}
           OR (s.token_version < u.token_version AND u.token_version_bumped_at < ${endedBefore})
           OR (s.global_version < g.global_version AND g.bumped_at < ${endedBefore})
        LIMIT ${batchSize})`;
  }

  /** `count = count + 1` in one statement: concurrent reports are all counted. */
  async incrementSuspiciousActivity(id: string): Promise<SessionRecord | null> {
    const changed = await this.db.session.updateMany({ where: { id }, data: { suspiciousActivityCount: { increment: 1 } } });
    return changed.count === 1 ? this.findById(id) : null;
  }

  /** Append-if-absent in one statement, so concurrent providers are all kept. */
  async recordProviderAccess(id: string, now: Date, provider: string, syncTime: Date): Promise<boolean> {
    // Raw: Prisma's `push` appends unconditionally; the CASE keeps the set a set.
    const changed = await this.db.$executeRaw`
      UPDATE sessions SET
        accessed_providers = CASE WHEN ${provider} = ANY(accessed_providers) THEN accessed_providers
                                  ELSE array_append(COALESCE(accessed_providers, ARRAY[]::text[]), ${provider}) END,
        last_provider = ${provider},
        last_provider_sync_at = ${syncTime}
      WHERE id = ${id}::uuid AND revoked_at IS NULL AND expires_at > ${now}`;
    return changed === 1;
  }

  /** Erases a user's sessions and tokens; returns the sessions that were not already revoked, for their events. */
  async deleteUserData(userId: string): Promise<{ sessions: number; tokens: number; unrevoked: { id: string; activeOrgId: string | null; orgIds: string[] }[] }> {
    const unrevoked = await this.db.session.findMany({ where: { userId, revokedAt: null }, select: { id: true, activeOrgId: true, orgIds: true } });
    const tokens = await this.db.refreshToken.deleteMany({ where: { session: { userId } } });
    const sessions = await this.db.session.deleteMany({ where: { userId } });
    return { sessions: sessions.count, tokens: tokens.count, unrevoked };
  }

  /** Erases client details (IP, user agent) of sessions older than the retention. */
  async eraseClientInfo(createdBefore: Date, now: Date): Promise<number> {
    const changed = await this.db.session.updateMany({
      where: { createdAt: { lt: createdBefore }, clientInfoErasedAt: null },
      data: { ipAddress: null, lastIpAddress: null, userAgent: null, clientInfoErasedAt: now },
    });
    return changed.count;
  }

  /** Idempotency keys only protect retries; once their window is over they are let go. */
  async forgetIdempotencyKeys(createdBefore: Date): Promise<number> {
    const changed = await this.db.session.updateMany({
      where: { createdAt: { lt: createdBefore }, idempotencyKey: { not: null } },
      data: { idempotencyKey: null },
    });
    return changed.count;
  }
}

/** Only sessions of these organisations; no filter when undefined. */
export function inOrgs(orgs: readonly string[] | undefined) {
  return orgs === undefined ? {} : { activeOrgId: { in: [...orgs] } };
}

/** Which sessions a query may touch: of these organisations, created by this caller; no filter for a part left undefined. */
export interface SessionReach {
  readonly orgs?: readonly string[] | undefined;
  readonly createdBy?: string | undefined;
}

export function withinReach(reach: SessionReach) {
  return { ...inOrgs(reach.orgs), ...(reach.createdBy === undefined ? {} : { createdBy: reach.createdBy }) };
}
