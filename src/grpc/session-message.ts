import { sessionState } from "../domain/session-state.js";
import type { IssuedTokens } from "../domain/issued-tokens.js";
import type { Session } from "../generated/proto/types/sessionauthority/v1/Session.js";
import type { TokenPair } from "../generated/proto/types/sessionauthority/v1/TokenPair.js";
import type { SessionRecord } from "../store/records.js";
import { toStruct, toTimestamp } from "./convert.js";

const stateNames = { active: "SESSION_STATE_ACTIVE", revoked: "SESSION_STATE_REVOKED", expired: "SESSION_STATE_EXPIRED" } as const;

export function toSessionMessage(session: SessionRecord, now: Date): Session {
  return {
    sessionId: session.id,
    userId: session.userId,
    activeOrgId: session.activeOrgId ?? "",
    state: stateNames[sessionState(session, now)],
    deviceName: session.deviceName ?? "",
    userAgent: session.userAgent ?? "",
    ipAddress: session.ipAddress ?? "",
    lastIpAddress: session.lastIpAddress ?? "",
    location: session.location ?? "",
    isTrusted: session.isTrusted,
    authentication: { amr: [...session.amr], acr: session.acr ?? "", authTime: toTimestamp(session.authTime) },
    extraClaims: toStruct(session.extraClaims),
    suspiciousActivityCount: session.suspiciousActivityCount,
    accessedProviders: [...session.accessedProviders],
    lastProvider: session.lastProvider ?? "",
    lastProviderSyncAt: toTimestamp(session.lastProviderSyncAt),
    createdBy: session.createdBy,
    createdAt: toTimestamp(session.createdAt),
    lastActivityAt: toTimestamp(session.lastActivityAt),
    expiresAt: toTimestamp(session.expiresAt),
    revokedAt: toTimestamp(session.revokedAt),
    revokeReason: session.revokeReason ?? "",
  };
}

export function toTokenPair(tokens: IssuedTokens): TokenPair {
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: toTimestamp(tokens.accessTokenExpiresAt),
    refreshTokenExpiresAt: toTimestamp(tokens.refreshTokenExpiresAt),
  };
}
