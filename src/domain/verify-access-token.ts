import { createLocalJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import type { SessionRecord } from "../store/records.js";
import type { Dependencies } from "./dependencies.js";
import { DomainError, invalidArgument } from "./errors.js";
import { sessionState } from "./session-state.js";

export interface VerifiedAccessToken {
  readonly payload: JWTPayload & Record<string, unknown>;
  readonly session: SessionRecord;
}

const CLOCK_TOLERANCE_SECONDS = 60;

/**
 * Signature, expiry, issuer and audience first (no database), then the
 * session must still be live and both versions current. This release reads
 * the database once per call; an event-fed cache is planned.
 */
export async function verifyAccessToken(deps: Dependencies, accessToken: string): Promise<VerifiedAccessToken> {
  if (accessToken.length === 0) throw invalidArgument("access_token", "is required");
  if (accessToken.length > 8192) throw new DomainError("TOKEN_INVALID", "the access token is not one of ours");
  let payload: JWTPayload & Record<string, unknown>;
  try {
    const verified = await jwtVerify(accessToken, createLocalJWKSet({ keys: [...deps.tokens.publicKeys] }), {
      issuer: deps.tokens.issuer,
      audience: deps.tokens.audience,
      algorithms: ["EdDSA", "ES256", "RS256"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: deps.clock.now(),
    });
    payload = verified.payload as JWTPayload & Record<string, unknown>;
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new DomainError("TOKEN_EXPIRED", "the access token has expired");
    throw new DomainError("TOKEN_INVALID", "the access token is not one of ours or was altered");
  }
  const sessionId = typeof payload["sid"] === "string" ? payload["sid"] : "";
  const tokenVersion = BigInt(typeof payload["tv"] === "number" ? payload["tv"] : -1);
  const globalVersion = BigInt(typeof payload["gv"] === "number" ? payload["gv"] : -1);
  const { session, floor } = await deps.store.read(async ({ sessions }) => {
    const session = /^[0-9a-f-]{36}$/.test(sessionId) ? await sessions.findById(sessionId) : null;
    return { session, floor: session === null ? null : await sessions.versionFloor(session.userId) };
  });
  if (session === null || floor === null) throw new DomainError("TOKEN_REVOKED", "the access token's session no longer exists");
  if (tokenVersion < floor.tokenVersion || globalVersion < floor.globalVersion) {
    throw new DomainError("VERSION_STALE", "the access token was issued before its user's or every token was revoked");
  }
  const state = sessionState(session, deps.clock.now());
  if (state === "revoked") throw new DomainError("TOKEN_REVOKED", "the access token's session was revoked");
  if (state === "expired") throw new DomainError("TOKEN_EXPIRED", "the access token's session has expired");
  return { payload, session };
}
