import type { JWK, JWTPayload } from "jose";
import { RESERVED_CLAIMS } from "../crypto/access-token.js";
import type { Dependencies } from "../domain/dependencies.js";
import type { Policy } from "../config.js";
import { listUserTokens } from "../domain/list-user-tokens.js";
import { revokeAllTokens, revokeRefreshToken, revokeTokenById, revokeUserTokens } from "../domain/revoke-tokens.js";
import { rotateRefreshToken } from "../domain/rotate-refresh-token.js";
import { verifyAccessToken } from "../domain/verify-access-token.js";
import { formatCursor } from "../domain/feed-cursor.js";
import { getRevocationSnapshot } from "../domain/revocation-snapshot.js";
import { listSigningKeys, revokeSigningKey, rotateSigningKey, type SigningKeyView } from "../domain/signing-key-lifecycle.js";
import type { TokenServiceHandlers } from "../generated/proto/types/sessionauthority/v1/TokenService.js";
import type { Logger } from "../logger.js";
import { fromDuration, toDuration, toStruct, toTimestamp } from "./convert.js";
import { toSessionMessage, toTokenPair } from "./session-message.js";
import { allowedByPolicy } from "./interceptors/caller-auth.js";
import { RevocationStreams } from "./revocation-streams.js";
import { unaryFor } from "./unary.js";

function toClaimsMessage(payload: JWTPayload & Record<string, unknown>, sessionId: string) {
  const seconds = (value: unknown) => (typeof value === "number" ? toTimestamp(new Date(value * 1000)) : null);
  const extra = Object.fromEntries(Object.entries(payload).filter(([name]) => !RESERVED_CLAIMS.has(name)));
  return {
    user_id: payload.sub ?? "",
    session_id: sessionId,
    client_id: typeof payload["client_id"] === "string" ? payload["client_id"] : "",
    active_org_id: typeof payload["org"] === "string" ? payload["org"] : "",
    jti: payload.jti ?? "",
    issuer: payload.iss ?? "",
    audience: Array.isArray(payload.aud) ? payload.aud : payload.aud === undefined ? [] : [payload.aud],
    issued_at: seconds(payload.iat),
    expires_at: seconds(payload.exp),
    token_version: String(payload["tv"] ?? 0),
    global_version: String(payload["gv"] ?? 0),
    authentication: {
      amr: Array.isArray(payload["amr"]) ? payload["amr"].map(String) : [],
      acr: typeof payload["acr"] === "string" ? payload["acr"] : "",
      auth_time: seconds(payload["auth_time"]),
    },
    extra_claims: toStruct(extra),
  };
}

export function toJsonWebKey(jwk: JWK) {
  return {
    kty: jwk.kty ?? "",
    kid: jwk.kid ?? "",
    alg: jwk.alg ?? "",
    use: jwk.use ?? "sig",
    crv: jwk.crv ?? "",
    x: jwk.x ?? "",
    y: jwk.y ?? "",
    n: jwk.n ?? "",
    e: jwk.e ?? "",
  };
}

const STAGES = {
  published: "SIGNING_KEY_STAGE_PUBLISHED",
  signing: "SIGNING_KEY_STAGE_SIGNING",
  retiring: "SIGNING_KEY_STAGE_RETIRING",
  retired: "SIGNING_KEY_STAGE_RETIRED",
  revoked: "SIGNING_KEY_STAGE_REVOKED",
} as const;

function toSigningKeyMessage(key: SigningKeyView) {
  return {
    kid: key.kid,
    alg: key.algorithm,
    stage: STAGES[key.stage],
    published_at: toTimestamp(key.publishedAt),
    activates_at: toTimestamp(key.activatesAt),
    retires_at: key.retiresAt === null ? null : toTimestamp(key.retiresAt),
    revoked_at: key.revokedAt === null ? null : toTimestamp(key.revokedAt),
    revoke_reason: key.revokeReason ?? "",
    kek_id: key.kekId ?? "",
  };
}

/** Policy capability that lets a caller switch a session's organisation on refresh. */
export const SWITCH_ORG_CAPABILITY = "/sessionauthority.v1.TokenService/RefreshTokens:switch_org";

export function tokenServiceHandlers(deps: Dependencies, logger: Logger, policy: Policy | undefined, revocationStreams: RevocationStreams): TokenServiceHandlers {
  const unary = unaryFor(deps, logger);
  return {
    RefreshTokens: unary(async (request, { caller, deps }) => {
      const result = await rotateRefreshToken(deps, caller, {
        refreshToken: request.refresh_token,
        userAgent: request.user_agent,
        ipAddress: request.ip_address,
        accessTtlMs: fromDuration("access_token_ttl", request.access_token_ttl),
        expectedUserId: request.expected_user_id,
        expectedOrgId: request.expected_org_id,
        switchToOrgId: request._active_org_id === "active_org_id" ? request.active_org_id : undefined,
        maySwitchOrg: allowedByPolicy(policy, caller.id, SWITCH_ORG_CAPABILITY),
      });
      return { tokens: toTokenPair(result.tokens), session: toSessionMessage(result.session, deps.clock.now()) };
    }),
    VerifyAccessToken: unary(async (request, { caller, deps }) => {
      const { payload, sessionId } = await verifyAccessToken(deps, caller, request.access_token);
      return { claims: toClaimsMessage(payload, sessionId) };
    }),
    RevokeRefreshToken: unary(async (request, { caller, deps }) => ({
      session_id: await revokeRefreshToken(deps, caller, { refreshToken: request.refresh_token, reason: request.reason }),
    })),
    RevokeUserTokens: unary(async (request, { caller, deps }) => {
      const result = await revokeUserTokens(deps, caller, { userId: request.user_id, reason: request.reason, keepSessionId: request.keep_session_id });
      return {
        token_version: String(result.tokenVersion),
        tokens: result.kept === undefined ? null : toTokenPair(result.kept.tokens),
        session: result.kept === undefined ? null : toSessionMessage(result.kept.session, deps.clock.now()),
      };
    }),
    ListUserTokens: unary(async (request, { caller, deps }) => {
      const page = await listUserTokens(deps, caller, { userId: request.user_id, pageSize: request.page_size, pageToken: request.page_token });
      return {
        tokens: page.tokens.map((token) => ({
          token_id: token.id,
          session_id: token.sessionId,
          issued_at: toTimestamp(token.issuedAt),
          expires_at: toTimestamp(token.expiresAt),
          last_rotated_at: token.rotated ? toTimestamp(token.issuedAt) : null,
        })),
        next_page_token: page.nextPageToken,
      };
    }),
    RevokeToken: unary(async (request, { caller, deps }) => ({
      session_id: await revokeTokenById(deps, caller, { tokenId: request.token_id, reason: request.reason }),
    })),
    RevokeAllTokens: unary(async (request, { caller, deps }) => ({
      global_version: String(await revokeAllTokens(deps, caller, { reason: request.reason })),
    })),
    GetJwks: unary(async (_request, { deps }) => ({
      keys: deps.keyRing.publicKeys().map(toJsonWebKey),
      max_age: toDuration(deps.keySettings.jwksMaxAgeMs),
    })),
    ListSigningKeys: unary(async (_request, { deps }) => ({ keys: (await listSigningKeys(deps)).map(toSigningKeyMessage) })),
    RotateSigningKey: unary(async (request, { caller, deps }) => {
      const keys = await rotateSigningKey(deps, caller, { reason: request.reason });
      const next = keys.find((key) => key.stage === "published");
      return { next_key: next === undefined ? null : toSigningKeyMessage(next), keys: keys.map(toSigningKeyMessage) };
    }),
    RevokeSigningKey: unary(async (request, { caller, deps }) => {
      const result = await revokeSigningKey(deps, caller, { kid: request.kid, reason: request.reason, bumpGlobalVersion: request.revoke_all_tokens });
      const revoked = result.keys.find((key) => key.kid === request.kid);
      return {
        revoked_key: revoked === undefined ? null : toSigningKeyMessage(revoked),
        signing_kid: result.signerKid,
        global_version: String(result.globalVersion ?? 0n),
        keys: result.keys.map(toSigningKeyMessage),
      };
    }),
    GetRevocationSnapshot: unary(async (request, { caller, deps }) => {
      const snapshot = await getRevocationSnapshot(deps, caller, { orgIds: request.org_ids, pageSize: request.page_size, pageToken: request.page_token });
      return {
        cursor: formatCursor(snapshot.cursor, snapshot.feedEpoch),
        global_version: String(snapshot.globalVersion),
        user_versions: snapshot.userVersions.map((user) => ({ user_id: user.userId, token_version: String(user.tokenVersion), bumped_at: toTimestamp(user.bumpedAt) })),
        revoked_sessions: snapshot.revokedSessions.map((session) => ({
          session_id: session.sessionId,
          user_id: session.userId,
          active_org_id: session.orgId ?? "",
          revoked_at: toTimestamp(session.revokedAt),
          reason: session.reason,
        })),
        revoked_kids: snapshot.revokedKids,
        window: toDuration(snapshot.windowMs),
        next_page_token: snapshot.nextPageToken,
      };
    }),
    WatchRevocations: revocationStreams.handler,
  };
}
