import type { Session } from "../generated/prisma/client.js";

// Plain records handed to the domain, so nothing above the store depends on
// Prisma's types.

export type JsonObject = Record<string, unknown>;

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly activeOrgId: string | null;
  readonly deviceName: string | null;
  readonly userAgent: string | null;
  readonly ipAddress: string | null;
  readonly lastIpAddress: string | null;
  readonly location: string | null;
  readonly isTrusted: boolean;
  readonly amr: readonly string[];
  readonly acr: string | null;
  readonly authTime: Date;
  readonly extraClaims: JsonObject;
  readonly suspiciousActivityCount: number;
  readonly accessedProviders: readonly string[];
  readonly lastProvider: string | null;
  readonly lastProviderSyncAt: Date | null;
  readonly createdBy: string;
  readonly tokenVersion: bigint;
  readonly globalVersion: bigint;
  readonly createdAt: Date;
  readonly lastActivityAt: Date;
  readonly expiresAt: Date;
  readonly refreshTtlSeconds: number;
  /** Explicit revocation, or the version bump that killed the session. */
  readonly revokedAt: Date | null;
  readonly revokeReason: string | null;
}

/** A session row with what its derived state depends on: the user's current token version. */
export type SessionRow = Session & {
  readonly user: { readonly tokenVersion: bigint; readonly tokenVersionReason: string | null; readonly tokenVersionBumpedAt: Date | null };
};

export interface GlobalVersionState {
  readonly globalVersion: bigint;
  readonly reason: string | null;
  readonly bumpedAt: Date | null;
}

export const userVersionSelect = {
  user: { select: { tokenVersion: true, tokenVersionReason: true, tokenVersionBumpedAt: true } },
} as const;

/**
 * Bumping a version is one write to one row; sessions it kills are not
 * rewritten. Their revocation is derived here, when read: stamped versions
 * below the current ones mean revoked, at the bump's time, for its reason.
 */
function effectiveRevocation(row: SessionRow, global: GlobalVersionState): { revokedAt: Date | null; revokeReason: string | null } {
  if (row.revokedAt !== null) return { revokedAt: row.revokedAt, revokeReason: row.revokeReason };
  if (row.globalVersion < global.globalVersion) {
    return { revokedAt: global.bumpedAt ?? row.createdAt, revokeReason: global.reason ?? "global_version" };
  }
  if (row.tokenVersion < row.user.tokenVersion) {
    return { revokedAt: row.user.tokenVersionBumpedAt ?? row.createdAt, revokeReason: row.user.tokenVersionReason ?? "token_version" };
  }
  return { revokedAt: null, revokeReason: null };
}

export function toSessionRecord(row: SessionRow, global: GlobalVersionState): SessionRecord {
  const claims = row.extraClaims;
  return {
    id: row.id,
    userId: row.userId,
    activeOrgId: row.activeOrgId,
    deviceName: row.deviceName,
    userAgent: row.userAgent,
    ipAddress: row.ipAddress,
    lastIpAddress: row.lastIpAddress,
    location: row.location,
    isTrusted: row.isTrusted,
    amr: row.amr,
    acr: row.acr,
    authTime: row.authTime,
    extraClaims: claims !== null && typeof claims === "object" && !Array.isArray(claims) ? (claims as JsonObject) : {},
    suspiciousActivityCount: row.suspiciousActivityCount,
    accessedProviders: row.accessedProviders,
    lastProvider: row.lastProvider,
    lastProviderSyncAt: row.lastProviderSyncAt,
    createdBy: row.createdBy,
    tokenVersion: row.tokenVersion,
    globalVersion: row.globalVersion,
    createdAt: row.createdAt,
    lastActivityAt: row.lastActivityAt,
    expiresAt: row.expiresAt,
    refreshTtlSeconds: row.refreshTtlSeconds,
    ...effectiveRevocation(row, global),
  };
}

/**
 * A session row as raw SQL returns it (`s.*`, snake_case), with its user's
 * version and the global version under the names below.
 */
export interface SessionSqlRow {
  id: string;
  user_id: string;
  active_org_id: string | null;
  org_ids: string[] | null;
  device_name: string | null;
  user_agent: string | null;
  ip_address: string | null;
  last_ip_address: string | null;
  location: string | null;
  is_trusted: boolean;
  amr: string[];
  acr: string | null;
  auth_time: Date;
  extra_claims: unknown;
  suspicious_activity_count: number;
  accessed_providers: string[];
  last_provider: string | null;
  last_provider_sync_at: Date | null;
  created_by: string;
  idempotency_key: string | null;
  token_version: bigint;
  global_version: bigint;
  refresh_ttl_seconds: number;
  created_at: Date;
  last_activity_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoke_reason: string | null;
  client_info_erased_at: Date | null;
  user_token_version: bigint;
  user_token_version_reason: string | null;
  user_token_version_bumped_at: Date | null;
  current_global_version: bigint;
  global_reason: string | null;
  global_bumped_at: Date | null;
}

export function sessionFromSqlRow(row: SessionSqlRow): SessionRecord {
  const session: SessionRow = {
    id: row.id,
    userId: row.user_id,
    activeOrgId: row.active_org_id,
    orgIds: row.org_ids ?? [],
    deviceName: row.device_name,
    userAgent: row.user_agent,
    ipAddress: row.ip_address,
    lastIpAddress: row.last_ip_address,
    location: row.location,
    isTrusted: row.is_trusted,
    amr: row.amr,
    acr: row.acr,
    authTime: row.auth_time,
    extraClaims: row.extra_claims as Session["extraClaims"],
    suspiciousActivityCount: row.suspicious_activity_count,
    accessedProviders: row.accessed_providers,
    lastProvider: row.last_provider,
    lastProviderSyncAt: row.last_provider_sync_at,
    createdBy: row.created_by,
    idempotencyKey: row.idempotency_key,
    tokenVersion: row.token_version,
    globalVersion: row.global_version,
    refreshTtlSeconds: row.refresh_ttl_seconds,
    createdAt: row.created_at,
    lastActivityAt: row.last_activity_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
    clientInfoErasedAt: row.client_info_erased_at,
    user: { tokenVersion: row.user_token_version, tokenVersionReason: row.user_token_version_reason, tokenVersionBumpedAt: row.user_token_version_bumped_at },
  };
  return toSessionRecord(session, { globalVersion: row.current_global_version, reason: row.global_reason, bumpedAt: row.global_bumped_at });
}

/** What the domain decides at login; the rest of a session starts at its defaults. */
export type NewSession = Pick<
  SessionRecord,
  | "id"
  | "userId"
  | "activeOrgId"
  | "deviceName"
  | "userAgent"
  | "ipAddress"
  | "location"
  | "isTrusted"
  | "amr"
  | "acr"
  | "authTime"
  | "extraClaims"
  | "createdBy"
  | "tokenVersion"
  | "globalVersion"
  | "createdAt"
  | "expiresAt"
  | "refreshTtlSeconds"
> & { readonly idempotencyKey: string | null };

export interface NewRefreshToken {
  readonly id: string;
  readonly sessionId: string;
  readonly parentId: string | null;
  readonly hash: Buffer;
  readonly tokenVersion: bigint;
  readonly globalVersion: bigint;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export interface RefreshTokenRecord {
  readonly id: string;
  readonly sessionId: string;
  readonly expiresAt: Date;
  readonly rotatedAt: Date | null;
  readonly revokedAt: Date | null;
}

export interface NewRevocationEvent {
  readonly kind:
    | "session_created"
    | "session_revoked"
    | "user_data_deleted"
    | "token_reuse"
    | "grace_replay"
    | "user_version"
    | "global_version"
    | "signing_key_published"
    | "signing_key_revoked";
  readonly sessionId: string | null;
  readonly userId: string | null;
  readonly version?: bigint;
  readonly orgId: string | null;
  /**
   * Every organisation the session has acted for; when absent, read from the
   * session's row as the event is recorded (give it when the row is gone).
   */
  readonly orgIds?: readonly string[];
  readonly keyId?: string;
  readonly reason: string;
  readonly caller: string;
}

export interface SessionChanges {
  readonly deviceName?: string | null;
  readonly isTrusted?: boolean;
  readonly location?: string | null;
  readonly activeOrgId?: string | null;
  readonly amr?: readonly string[];
  readonly acr?: string | null;
  readonly authTime?: Date;
  readonly extraClaims?: JsonObject;
}

export interface SessionPageCursor {
  readonly createdAt: Date;
  readonly id: string;
}
