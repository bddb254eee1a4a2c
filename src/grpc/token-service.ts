import * as grpc from "@grpc/grpc-js";
import type { JWK, JWTPayload } from "jose";
import { RESERVED_CLAIMS } from "../crypto/access-token.js";
import type { Dependencies } from "../domain/dependencies.js";
import { revokeAllTokens, revokeRefreshToken, revokeUserTokens } from "../domain/revoke-tokens.js";
import { rotateRefreshToken } from "../domain/rotate-refresh-token.js";
import { verifyAccessToken } from "../domain/verify-access-token.js";
import type { SessionRecord } from "../store/records.js";
import type { TokenServiceHandlers } from "../generated/proto/types/sessionauthority/v1/TokenService.js";
import type { Logger } from "../logger.js";
import { fromDuration, toDuration, toStruct, toTimestamp } from "./convert.js";
import { toSessionMessage, toTokenPair } from "./session-message.js";
import { errorStatus } from "./status.js";
import { unary } from "./unary.js";

/** How long verifiers may cache the JWKS; also the HTTP Cache-Control max-age. */
export const JWKS_MAX_AGE_MS = 5 * 60 * 1000;

function toClaimsMessage(payload: JWTPayload & Record<string, unknown>, session: SessionRecord) {
  const seconds = (value: unknown) => (typeof value === "number" ? toTimestamp(new Date(value * 1000)) : null);
  const extra = Object.fromEntries(Object.entries(payload).filter(([name]) => !RESERVED_CLAIMS.has(name)));
  return {
    user_id: payload.sub ?? "",
    session_id: session.id,
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

export function tokenServiceHandlers(deps: Dependencies, logger: Logger): TokenServiceHandlers {
  return {
    RefreshTokens: unary(logger, async (request, { caller }) => {
      const result = await rotateRefreshToken(deps, caller, {
        refreshToken: request.refresh_token,
        userAgent: request.user_agent,
        ipAddress: request.ip_address,
        accessTtlMs: fromDuration("access_token_ttl", request.access_token_ttl),
      });
      return { tokens: toTokenPair(result.tokens), session: toSessionMessage(result.session, deps.clock.now()) };
    }),
    VerifyAccessToken: unary(logger, async (request) => {
      const { payload, session } = await verifyAccessToken(deps, request.access_token);
      return { claims: toClaimsMessage(payload, session) };
    }),
    RevokeRefreshToken: unary(logger, async (request, { caller }) => ({
      session_id: await revokeRefreshToken(deps, caller, { refreshToken: request.refresh_token, reason: request.reason }),
    })),
    RevokeUserTokens: unary(logger, async (request, { caller }) => ({
      token_version: String(await revokeUserTokens(deps, caller, { userId: request.user_id, reason: request.reason })),
    })),
    RevokeAllTokens: unary(logger, async (request, { caller }) => ({
      global_version: String(await revokeAllTokens(deps, caller, { reason: request.reason })),
    })),
    GetJwks: unary(logger, async () => ({
      keys: deps.tokens.publicKeys.map(toJsonWebKey),
      max_age: toDuration(JWKS_MAX_AGE_MS),
    })),
    WatchRevocations: (call) => {
      call.emit("error", errorStatus(grpc.status.UNIMPLEMENTED, "NOT_IMPLEMENTED", "WatchRevocations is not implemented in this version"));
    },
  };
}
