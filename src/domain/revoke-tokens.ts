import { assertUnscoped, outOfReach } from "./org-scope.js";
import { randomUUID } from "node:crypto";
import { hashRefreshToken, looksLikeRefreshToken } from "../crypto/refresh-token.js";
import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { DomainError, invalidArgument } from "./errors.js";
import type { IssuedTokens } from "./issued-tokens.js";
import { revokeSessions } from "./revoke-sessions.js";
import { assertActive, found } from "./session-state.js";
import { optionalSessionId, reason, requiredId, sessionId } from "./validation.js";

export interface RevokeUserTokensInput {
  readonly userId: string;
  readonly reason: string;
  /** "" for none. */
  readonly keepSessionId: string;
}

export interface RevokeUserTokensResult {
  readonly tokenVersion: bigint;
  readonly kept?: { readonly session: SessionRecord; readonly tokens: IssuedTokens };
}

/**
 * Kills every refresh and access token the user holds, in one single-row
 * write (the user's token version); their sessions read as revoked from then
 * on. A kept session (the one a password was just changed from) is re-stamped
 * with the new version in the same transaction and gets a new token pair.
 */
export async function revokeUserTokens(deps: Pick<Dependencies, "store" | "clock" | "orgScopes" | "tokens" | "settings">, caller: Caller, input: RevokeUserTokensInput): Promise<RevokeUserTokensResult> {
  const userId = requiredId("user_id", input.userId);
  const why = reason("reason", input.reason, "user_tokens_revoked");
  const keepId = optionalSessionId("keep_session_id", input.keepSessionId);
  assertUnscoped(deps.orgScopes, caller, "RevokeUserTokens");
  const now = deps.clock.now();
  const refresh = deps.tokens.refreshToken();
  const outcome = await deps.store.transaction(async (repos) => {
    const kept = keepId === null ? null : assertActive(ownSession(caller, await repos.sessions.findById(keepId)), now);
    if (kept !== null && kept.userId !== userId) throw new DomainError("SESSION_NOT_FOUND", "keep_session_id is not a session of this user");
    const version = await repos.versions.bumpUserVersion(userId, why);
    await repos.events.record([{ kind: "user_version", sessionId: null, userId, orgId: null, version, reason: why, caller: caller.id }]);
    if (kept === null) return { version, keptRefreshExpiresAt: null };
    await repos.sessions.restamp(kept.id, version);
    await repos.refreshTokens.revokeLive(kept.id, why, now);
    const keptRefreshExpiresAt = new Date(Math.min(now.getTime() + kept.refreshTtlSeconds * 1000, kept.expiresAt.getTime()));
    const keptRefreshTokenId = randomUUID();
    await repos.refreshTokens.insert({
      id: keptRefreshTokenId,
      sessionId: kept.id,
      parentId: null,
      hash: refresh.hash,
      tokenVersion: version,
      globalVersion: kept.globalVersion,
      issuedAt: now,
      expiresAt: keptRefreshExpiresAt,
    });
    return { version, keptRefreshExpiresAt, keptRefreshTokenId };
  });
  if (keepId === null || outcome.keptRefreshExpiresAt === null) return { tokenVersion: outcome.version };
  const session = found(await deps.store.read(({ sessions }) => sessions.findById(keepId)));
  const access = await deps.tokens.accessToken(session, deps.settings.accessTtlMs, outcome.keptRefreshTokenId);
  return {
    tokenVersion: outcome.version,
    kept: {
      session,
      tokens: {
        accessToken: access.token,
        accessTokenExpiresAt: access.expiresAt,
        refreshToken: refresh.token,
        refreshTokenExpiresAt: outcome.keptRefreshExpiresAt,
      },
    },
  };
}

/**
 * The kept session gets a new token pair, so it must be one the caller
 * created, whatever the caller may otherwise reach: another caller's session
 * is unknown here (checked before its state, so nothing is revealed).
 */
function ownSession(caller: Caller, session: SessionRecord | null): SessionRecord | null {
  if (session === null || session.createdBy === caller.id) return session;
  throw new DomainError("SESSION_NOT_FOUND", "no session has this id", {
    cause: `keep_session_id ${session.id} was created by caller "${session.createdBy}", not by "${caller.id}"`,
  });
}

/** Breach response: every token of every user, in one single-row write. */
export async function revokeAllTokens(deps: Pick<Dependencies, "store">, caller: Caller, input: { reason: string }): Promise<bigint> {
  if (input.reason.length === 0) throw invalidArgument("reason", "is required: say why every token is being revoked");
  const why = reason("reason", input.reason, "");
  return deps.store.transaction(async (repos) => {
    const version = await repos.versions.bumpGlobalVersion(why);
    await repos.events.record([{ kind: "global_version", sessionId: null, userId: null, orgId: null, version, reason: why, caller: caller.id }]);
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
    const session = token === null ? null : await repos.sessions.findById(token.sessionId);
    // Bound to the creating caller: for anyone else the token does not exist.
    if (token === null || session === null || session.createdBy !== caller.id) return "";
    await revokeSessions(repos, [token.sessionId], why, now, caller);
    return token.sessionId;
  });
}

/** Ends the session family of the refresh token with this id (from ListUserTokens). */
export async function revokeTokenById(deps: Dependencies, caller: Caller, input: { tokenId: string; reason: string }): Promise<string> {
  const tokenId = sessionId("token_id", input.tokenId);
  const why = reason("reason", input.reason, "revoked");
  const now = deps.clock.now();
  return deps.store.transaction(async (repos) => {
    const token = await repos.refreshTokens.findById(tokenId);
    const session = token === null ? null : await repos.sessions.findById(token.sessionId);
    // A token of a session out of the caller's reach (another organisation's,
    // another caller's) does not exist for it.
    const refused = session === null ? undefined : outOfReach(deps.orgScopes, caller, session);
    if (token === null || session === null || refused !== undefined) {
      throw new DomainError("TOKEN_NOT_FOUND", "no refresh token has this id", refused === undefined ? {} : { cause: refused });
    }
    await revokeSessions(repos, [token.sessionId], why, now, caller);
    return token.sessionId;
  });
}
