import { hashRefreshToken, looksLikeRefreshToken } from "../crypto/refresh-token.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { invalidArgument } from "./errors.js";
import { revokeSessions } from "./revoke-sessions.js";
import { reason, requiredId } from "./validation.js";

/**
 * Kills every refresh and access token the user holds, in one single-row
 * write (the user's token version); their sessions read as revoked from then on.
 */
export async function revokeUserTokens(deps: Dependencies, caller: Caller, input: { userId: string; reason: string }): Promise<bigint> {
  const userId = requiredId("user_id", input.userId);
  const why = reason("reason", input.reason, "user_tokens_revoked");
  return deps.store.transaction(async (repos) => {
    const version = await repos.versions.bumpUserVersion(userId, why);
    await repos.sessions.recordEvents([{ kind: "user_version", sessionId: null, userId, orgId: null, version, reason: why, caller: caller.id }]);
    return version;
  });
}

/** Breach response: every token of every user, in one single-row write. */
export async function revokeAllTokens(deps: Dependencies, caller: Caller, input: { reason: string }): Promise<bigint> {
  if (input.reason.length === 0) throw invalidArgument("reason", "is required: say why every token is being revoked");
  const why = reason("reason", input.reason, "");
  return deps.store.transaction(async (repos) => {
    const version = await repos.versions.bumpGlobalVersion(why);
    await repos.sessions.recordEvents([{ kind: "global_version", sessionId: null, userId: null, orgId: null, version, reason: why, caller: caller.id }]);
    return version;
  });
}

/**
 * Ends the session family of a refresh token. An unknown token is not an
 * error (RFC 7009 §2.2): the caller's goal, that the token be dead, holds.
 */
export async function revokeRefreshToken(deps: Dependencies, caller: Caller, input: { refreshToken: string; reason: string }): Promise<string> {
  if (input.refreshToken.length === 0) throw invalidArgument("refresh_token", "is required");
  const why = reason("reason", input.reason, "revoked");
  if (!looksLikeRefreshToken(input.refreshToken)) return "";
  const hash = hashRefreshToken(input.refreshToken);
  const now = deps.clock.now();
  return deps.store.transaction(async (repos) => {
    const token = await repos.refreshTokens.findByHash(hash);
    if (token === null) return "";
    await revokeSessions(repos, [token.sessionId], why, now, caller);
    return token.sessionId;
  });
}
