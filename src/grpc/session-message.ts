import { sessionState } from "../domain/session-state.js";
import type { IssuedTokens } from "../domain/issued-tokens.js";
import type { Session } from "../generated/proto/types/sessionauthority/v1/Session.js";
import type { TokenPair } from "../generated/proto/types/sessionauthority/v1/TokenPair.js";
import type { SessionRecord } from "../store/records.js";
import { toStruct, toTimestamp } from "./convert.js";

const stateNames = { active: "SESSION_STATE_ACTIVE", revoked: "SESSION_STATE_REVOKED", expired: "SESSION_STATE_EXPIRED" } as const;

export function toSessionMessage(session: SessionRecord, now: Date): Session {
  return {
    session_id: session.id,
    user_id: session.userId,
    active_org_id: session.activeOrgId ?? "",
    state: stateNames[sessionState(session, now)],
    device_name: session.deviceName ?? "",
    user_agent: session.userAgent ?? "",
    ip_address: session.ipAddress ?? "",
    last_ip_address: session.lastIpAddress ?? "",
    location: session.location ?? "",
    is_trusted: session.isTrusted,
    authentication: { amr: [...session.amr], acr: session.acr ?? "", auth_time: toTimestamp(session.authTime) },
    extra_claims: toStruct(session.extraClaims),
    suspicious_activity_count: session.suspiciousActivityCount,
    accessed_providers: [...session.accessedProviders],
    last_provider: session.lastProvider ?? "",
    last_provider_sync_at: toTimestamp(session.lastProviderSyncAt),
    created_by: session.createdBy,
    created_at: toTimestamp(session.createdAt),
    last_activity_at: toTimestamp(session.lastActivityAt),
    expires_at: toTimestamp(session.expiresAt),
    revoked_at: toTimestamp(session.revokedAt),
    revoke_reason: session.revokeReason ?? "",
  };
}

export function toTokenPair(tokens: IssuedTokens): TokenPair {
  return {
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    access_token_expires_at: toTimestamp(tokens.accessTokenExpiresAt),
    refresh_token_expires_at: toTimestamp(tokens.refreshTokenExpiresAt),
  };
}
