import { hashRefreshToken, looksLikeRefreshToken } from "../crypto/refresh-token.js";
import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { DomainError, invalidArgument } from "./errors.js";
import { sessionInReach } from "./org-scope.js";
import { sessionState } from "./session-state.js";
import { sessionId } from "./validation.js";

export type GetSessionInput = { readonly sessionId: string } | { readonly refreshToken: string };

/** Reads a session by id, or by one of its live refresh tokens. Never writes. */
export async function getSession(deps: Dependencies, caller: Caller, input: GetSessionInput): Promise<SessionRecord> {
  if ("sessionId" in input) {
    const id = sessionId("session_id", input.sessionId);
    return sessionInReach(deps.orgScopes, deps.store, caller, id);
  }
  if (input.refreshToken.length === 0) throw invalidArgument("refresh_token", "is required");
  const unknown = new DomainError("TOKEN_UNKNOWN", "the refresh token is not known");
  // Garbage (and a typo in one of ours) costs no database round trip; see looksLikeRefreshToken.
  if (!looksLikeRefreshToken(input.refreshToken)) throw unknown;
  const hash = hashRefreshToken(input.refreshToken);
  const now = deps.clock.now();
  const { token, session } = await deps.store.read(async ({ refreshTokens, sessions }) => {
    const token = await refreshTokens.findByHash(hash);
    return { token, session: token === null ? null : await sessions.findById(token.sessionId) };
  });
  // Refresh tokens are bound to the caller that created their session; to any
  // other caller the token does not exist (see rotate-refresh-token.ts).
  if (token === null || session === null || session.createdBy !== caller.id) throw unknown;
  if (token.revokedAt !== null || token.rotatedAt !== null || sessionState(session, now) === "revoked") {
    throw new DomainError("TOKEN_REVOKED", "the refresh token is no longer live");
  }
  if (token.expiresAt.getTime() <= now.getTime() || sessionState(session, now) === "expired") {
    throw new DomainError("TOKEN_EXPIRED", "the refresh token has expired");
  }
  return session;
}
