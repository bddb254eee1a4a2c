import * as grpc from "@grpc/grpc-js";
import type { JWK } from "jose";
import type { Dependencies } from "../domain/dependencies.js";
import { DomainError } from "../domain/errors.js";
import type { TokenServiceHandlers } from "../generated/proto/types/sessionauthority/v1/TokenService.js";
import type { Logger } from "../logger.js";
import { toDuration } from "./convert.js";
import { errorStatus } from "./status.js";
import { unary } from "./unary.js";

/** How long verifiers may cache the JWKS; also the HTTP Cache-Control max-age. */
export const JWKS_MAX_AGE_MS = 5 * 60 * 1000;

// Rotation, verification, version bumps and the revocation feed are the work
// of the next issues; until then those RPCs say so plainly.
const notYet = (rpc: string) => async (): Promise<never> => {
  throw new DomainError("NOT_IMPLEMENTED", `${rpc} is not implemented in this version`);
};

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
    RefreshTokens: unary(logger, notYet("RefreshTokens")),
    VerifyAccessToken: unary(logger, notYet("VerifyAccessToken")),
    RevokeRefreshToken: unary(logger, notYet("RevokeRefreshToken")),
    RevokeUserTokens: unary(logger, notYet("RevokeUserTokens")),
    RevokeAllTokens: unary(logger, notYet("RevokeAllTokens")),
    GetJwks: unary(logger, async () => ({
      keys: deps.tokens.publicKeys.map(toJsonWebKey),
      max_age: toDuration(JWKS_MAX_AGE_MS),
    })),
    WatchRevocations: (call) => {
      call.emit("error", errorStatus(grpc.status.UNIMPLEMENTED, "NOT_IMPLEMENTED", "WatchRevocations is not implemented in this version"));
    },
  };
}
