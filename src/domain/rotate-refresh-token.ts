import { createHash, randomUUID } from "node:crypto";
import { deriveSuccessor, deriveSuccessorV1, hashRefreshToken, looksLikeRefreshToken } from "../crypto/refresh-token.js";
import type { SessionRecord } from "../store/records.js";
import type { LockedRefreshToken } from "../store/rotation-repository.js";
import type { Repositories } from "../store/store.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import type { RotationOutcome } from "./observer.js";
import { DomainError, invalidArgument } from "./errors.js";
import type { IssuedTokens } from "./issued-tokens.js";
import { lifetime } from "./lifetimes.js";
import { decideSpentToken } from "./spent-token-rules.js";
import { assertOrgAllowed } from "./org-scope.js";
import { revokeSessions } from "./revoke-sessions.js";
import { found } from "./session-state.js";
import { optionalId, optionalIp, optionalText } from "./validation.js";

export interface RotateInput {
  readonly refreshToken: string;
  readonly userAgent: string;
  readonly ipAddress: string;
  readonly accessTtlMs: number | undefined;
  /** "" when the caller does not assert who the token belongs to. */
  readonly expectedUserId: string;
  readonly expectedOrgId: string;
  /** Set to switch the session's organisation with this rotation ("" clears it). */
  readonly switchToOrgId: string | undefined;
  /** Whether the caller's policy lets it switch organisations. */
  readonly maySwitchOrg: boolean;
}

export const TOKEN_REUSE_REASON = "token_reuse";

type Outcome =
  | {
      readonly kind: "rotated" | "replayed";
      readonly session: SessionRecord;
      readonly refreshToken: string;
      readonly refreshTokenId: string;
      readonly refreshExpiresAt: Date;
    }
  | { readonly kind: "failed"; readonly error: DomainError };

/**
 * Exchanges a refresh token for a new pair in one transaction. Checks run in
 * this order: unknown → revoked family → spent (grace replay, concurrent
 * refresh or reuse) → expiry → versions. A failure that must still change
 * state (reuse revokes the family) commits first and is thrown afterwards.
 */
export async function rotateRefreshToken(deps: Dependencies, caller: Caller, input: RotateInput): Promise<{ session: SessionRecord; tokens: IssuedTokens }> {
  try {
    const { kind, ...rotated } = await rotate(deps, caller, input);
    deps.observer?.rotation(kind === "replayed" ? "grace_replay" : "rotated");
    return rotated;
  } catch (error) {
    deps.observer?.rotation(rotationFailure(error));
    throw error;
  }
}

const FAILURES: Partial<Record<string, RotationOutcome>> = {
  TOKEN_UNKNOWN: "unknown_token",
  TOKEN_REVOKED: "revoked",
  VERSION_STALE: "stale_version",
  TOKEN_REUSED: "reuse_detected",
  CONCURRENT_REFRESH: "concurrent_refresh",
  TOKEN_EXPIRED: "expired",
  SESSION_EXPIRED: "expired",
  INVALID_ARGUMENT: "invalid",
};

function rotationFailure(error: unknown): RotationOutcome {
  return error instanceof DomainError ? (FAILURES[error.code] ?? "refused") : "error";
}

async function rotate(deps: Dependencies, caller: Caller, input: RotateInput): Promise<{ kind: "rotated" | "replayed"; session: SessionRecord; tokens: IssuedTokens }> {
  if (input.refreshToken.length === 0) throw invalidArgument("refresh_token", "is required");
  const ipAddress = optionalIp("ip_address", input.ipAddress);
  const userAgent = optionalText("user_agent", input.userAgent, 1024);
  const accessTtlMs = lifetime("access_token_ttl", input.accessTtlMs, deps.settings.accessTtlMs, deps.settings.accessTtlMaxMs);
  const expectedUserId = optionalId("expected_user_id", input.expectedUserId);
  const expectedOrgId = optionalId("expected_org_id", input.expectedOrgId);
  const switchOrg = input.switchToOrgId === undefined ? null : { orgId: optionalId("active_org_id", input.switchToOrgId) };
  if (switchOrg !== null) assertOrgAllowed(deps.orgScopes, caller, switchOrg.orgId);
  if (switchOrg !== null && !input.maySwitchOrg) {
    throw new DomainError("CALLER_NOT_ALLOWED", "this caller may not switch a session's organisation");
  }
  if (!looksLikeRefreshToken(input.refreshToken)) throw unknownToken();
  const client = userAgent === null && ipAddress === null ? null : createHash("sha256").update(`${userAgent ?? ""}\n${ipAddress ?? ""}`).digest();
  const presentedHash = hashRefreshToken(input.refreshToken);

  const successor = deriveSuccessor(deps.graceKey, input.refreshToken);
  const successorId = randomUUID();

  const outcome = await deps.store.transaction(
    async (repos): Promise<Outcome> => {
      // The common case in one statement; anything else is decided below on the row it locked.
      const { token, rotated } = await repos.rotation.rotateIfLive({
        hash: presentedHash,
        caller: caller.id,
        client,
        expectedUserId,
        expectedOrgId,
        successorId,
        successorHash: successor.hash,
        ipAddress,
        switchOrg,
      });
      if (token === null) return failed(unknownToken());
      if (rotated !== null) {
        return { kind: "rotated", session: rotated.session, refreshToken: successor.token, refreshTokenId: successorId, refreshExpiresAt: rotated.successorExpiresAt };
      }
      // A token presented through another service, or for another user or
      // organisation, looks exactly like an unknown one: the answer must not
      // confirm that it exists or whose it is.
      const mismatch =
        token.sessionCreatedBy !== caller.id
          ? "presented by a caller other than the one that created its session"
          : expectedUserId !== null && expectedUserId !== token.userId
            ? "presented for another user"
            : expectedOrgId !== null && expectedOrgId !== token.sessionActiveOrgId
              ? "presented for another organisation"
              : undefined;
      if (mismatch !== undefined) return failed(unknownToken(`refresh token of session ${token.sessionId} ${mismatch}`));
      if (token.revokedAt !== null || token.sessionRevokedAt !== null) {
        return failed(new DomainError("TOKEN_REVOKED", "the refresh token's session has ended"));
      }
      // A family killed by a version bump is revoked too (derived): its tokens,
      // spent or not, are stale rather than reused.
      if (token.tokenVersion < token.currentTokenVersion || token.globalVersion < token.currentGlobalVersion) {
        return failed(staleVersion());
      }
      if (token.rotatedAt !== null) return spentToken(deps, repos, caller, token, client, input.refreshToken);
      const stale = expiredOrStale(token);
      if (stale !== undefined) return failed(stale);
      // The function rotates every live, matching, unexpired token it locked.
      throw new Error("a live token was neither rotated nor refused");
    },
    { deadlineInFirstStatement: true },
  );

  if (outcome.kind === "failed") throw outcome.error;
  const { session } = outcome;
  const access = await deps.tokens.accessToken(session, accessTtlMs, outcome.refreshTokenId);
  return {
    kind: outcome.kind,
    session,
    tokens: {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: outcome.refreshToken,
      refreshTokenExpiresAt: outcome.refreshExpiresAt,
    },
  };
}

/**
 * A token that was already rotated: the rules of ADR 013, in order.
 *
 * - Its successor was used (rotated, or gone with the family): reuse, always.
 *   Nobody can still be racing a rotation whose result has itself been spent.
 * - Presented by another client than the one that rotated it: reuse, even if
 *   this transaction began before the rotation. Only the winner's own client
 *   can be retrying; anyone else holding the parent holds a copy.
 * - The same caller and client while the successor is unused:
 *   - racing (this transaction began before the rotation committed) or within
 *     the burst window: parallel requests of one client. With grace on they
 *     get the same successor, uncounted; with grace off they are ABORTED.
 *   - after the burst, within the grace window, under the replay limit: a
 *     retry after a lost answer, counted.
 *   - anything later: reuse.
 * The burst is bounded by the grace window, so no successor is ever handed
 * out after the grace window, however the two are configured.
 */
async function spentToken(
  deps: Dependencies,
  repos: Repositories,
  caller: Caller,
  token: LockedRefreshToken,
  client: Buffer | null,
  parentToken: string,
): Promise<Outcome> {
  const live = await repos.rotation.liveSuccessor(token.id);
  const decision = decideSpentToken(deps.settings, token, caller, client, live);
  if (decision.kind === "concurrent") {
    return failed(concurrentRefresh());
  }
  if (decision.kind === "replay") {
    // The successor as this release derives it, or as the release that rotated the token did.
    const successorToken = [deriveSuccessor(deps.graceKey, parentToken), deriveSuccessorV1(deps.graceKey, parentToken, token.id)].find((candidate) =>
      live?.hash.equals(candidate.hash),
    )?.token;
    // Not derivable (a successor drawn at random by an older release's login replay): nothing to hand back, and no theft either.
    if (successorToken === undefined) return failed(concurrentRefresh());
    const stale = expiredOrStale({ ...token, expiresAt: decision.successor.expiresAt });
    if (stale !== undefined) return failed(stale);
    if (decision.counted) await repos.rotation.countReplay(token.id);
    await repos.events.record([
      {
        kind: "grace_replay",
        sessionId: token.sessionId,
        userId: token.userId,
        orgId: token.sessionActiveOrgId,
        reason: decision.counted ? "retry" : "concurrent",
        caller: caller.id,
      },
    ]);
    const session = found(await repos.sessions.findById(token.sessionId));
    return { kind: "replayed", session, refreshToken: successorToken, refreshTokenId: decision.successor.id, refreshExpiresAt: decision.successor.expiresAt };
  }
  await revokeSessions(repos, [token.sessionId], TOKEN_REUSE_REASON, token.transactionStartedAt, caller);
  await repos.events.record([
    { kind: "token_reuse", sessionId: token.sessionId, userId: token.userId, orgId: token.sessionActiveOrgId, reason: TOKEN_REUSE_REASON, caller: caller.id },
  ]);
  return failed(new DomainError("TOKEN_REUSED", "this refresh token was already used; its session has been revoked"));
}

function expiredOrStale(token: Pick<LockedRefreshToken, "expiresAt" | "sessionExpiresAt" | "transactionStartedAt" | "tokenVersion" | "globalVersion" | "currentTokenVersion" | "currentGlobalVersion">) {
  const now = token.transactionStartedAt.getTime();
  if (token.expiresAt.getTime() <= now || token.sessionExpiresAt.getTime() <= now) {
    return new DomainError("TOKEN_EXPIRED", "the refresh token has expired");
  }
  if (token.tokenVersion < token.currentTokenVersion || token.globalVersion < token.currentGlobalVersion) return staleVersion();
  return undefined;
}

const failed = (error: DomainError): Outcome => ({ kind: "failed", error });
const concurrentRefresh = () => new DomainError("CONCURRENT_REFRESH", "another refresh of this token won; use its result");
const staleVersion = () => new DomainError("VERSION_STALE", "the refresh token was issued before its user's or every token was revoked");
/** `why` is private: logged, never sent. */
const unknownToken = (why?: string) =>
  new DomainError("TOKEN_UNKNOWN", "the refresh token is not known", why === undefined ? {} : { cause: why });
