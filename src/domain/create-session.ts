import { randomUUID } from "node:crypto";
import { deriveLoginToken } from "../crypto/refresh-token.js";
import type { VersionFloor } from "../store/session-repository.js";
import type { Repositories } from "../store/store.js";
import type { SessionRecord } from "../store/records.js";
import { validateAuthentication, type AuthenticationInput } from "./authentication-context.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { DomainError, invalidArgument } from "./errors.js";
import { validateExtraClaims } from "./extra-claims.js";
import { resolveLifetimes, type RequestedLifetimes } from "./lifetimes.js";
import { revokeSessions } from "./revoke-sessions.js";
import { sessionState } from "./session-state.js";
import type { IssuedTokens } from "./issued-tokens.js";
import { assertOrgAllowed } from "./org-scope.js";
import { optionalId, optionalIp, optionalText, requiredId } from "./validation.js";

export interface CreateSessionInput extends RequestedLifetimes {
  readonly userId: string;
  readonly activeOrgId: string;
  readonly deviceName: string;
  readonly userAgent: string;
  readonly ipAddress: string;
  readonly location: string;
  readonly isTrusted: boolean;
  readonly authentication: AuthenticationInput;
  readonly extraClaims: Record<string, unknown>;
  readonly idempotencyKey: string;
}

export interface CreateSessionResult {
  readonly session: SessionRecord;
  readonly tokens: IssuedTokens;
  readonly replayed: boolean;
}

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
export const SESSION_LIMIT_REASON = "session_limit";

export async function createSession(deps: Dependencies, caller: Caller, input: CreateSessionInput): Promise<CreateSessionResult> {
  const now = deps.clock.now();
  const userId = requiredId("user_id", input.userId);
  const idempotencyKey = optionalId("idempotency_key", input.idempotencyKey, 128);
  const authentication = validateAuthentication(input.authentication, now);
  const extraClaims = validateExtraClaims("extra_claims", input.extraClaims);
  const lifetimes = resolveLifetimes(deps.settings, input);
  const ipAddress = optionalIp("ip_address", input.ipAddress);
  const fields = {
    activeOrgId: optionalId("active_org_id", input.activeOrgId),
    deviceName: optionalText("device_name", input.deviceName, 256),
    userAgent: optionalText("user_agent", input.userAgent, 1024),
    location: optionalText("location", input.location, 128),
  };
  assertOrgAllowed(deps.orgScopes, caller, fields.activeOrgId);
  const sessionId = randomUUID();
  const refresh = idempotencyKey === null ? deps.tokens.refreshToken() : deriveLoginToken(deps.graceKey, sessionId, idempotencyKey);

  // A login that needs nothing read first (no retry to recognise, no limit to enforce) is one statement.
  const needsUserLock = idempotencyKey !== null || deps.settings.maxActivePerUser > 0;
  const outcome = await deps.store.transaction(
    async (repos) => {
      if (needsUserLock) {
        const { tokenVersion, globalVersion } = await repos.sessions.lockUser(userId);
        if (idempotencyKey !== null) {
          const earlier = await repos.sessions.findByIdempotencyKey(userId, idempotencyKey);
          if (earlier !== null && earlier.createdAt.getTime() >= now.getTime() - IDEMPOTENCY_WINDOW_MS) {
            // A key is one login by one caller; another caller never gets that session.
            if (earlier.createdBy !== caller.id) {
              throw invalidArgument("idempotency_key", "was already used for another login of this user");
            }
            return replay(deps, repos, earlier, idempotencyKey, now);
          }
          // Past its window the key protects nothing; the retention sweep may not have freed it yet.
          if (earlier !== null) await repos.sessions.forgetIdempotencyKey(earlier.id);
        }
        await enforceSessionLimit(repos, deps.settings.maxActivePerUser, userId, now, caller, { tokenVersion, globalVersion });
      }
      const expiresAt = new Date(now.getTime() + lifetimes.sessionMs);
      const refreshExpiresAt = new Date(Math.min(now.getTime() + lifetimes.refreshMs, expiresAt.getTime()));
      const refreshTokenId = randomUUID();
      const session = await repos.sessions.insertLogin(
        {
          id: sessionId,
          userId,
          ...fields,
          ipAddress,
          isTrusted: input.isTrusted,
          ...authentication,
          extraClaims,
          createdBy: caller.id,
          idempotencyKey,
          createdAt: now,
          expiresAt,
          refreshTtlSeconds: Math.ceil(lifetimes.refreshMs / 1000),
        },
        { id: refreshTokenId, hash: refresh.hash, expiresAt: refreshExpiresAt },
      );
      repos.events.written([{ kind: "session_created", sessionId: session.id, userId, orgId: session.activeOrgId, reason: "login", caller: caller.id }]);
      return { session, refreshToken: refresh.token, refreshExpiresAt, refreshTokenId, replayed: false };
    },
    { deadlineInFirstStatement: !needsUserLock },
  );

  const access = await deps.tokens.accessToken(outcome.session, lifetimes.accessMs, outcome.refreshTokenId);
  return {
    session: outcome.session,
    replayed: outcome.replayed,
    tokens: {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: outcome.refreshToken,
      refreshTokenExpiresAt: outcome.refreshExpiresAt,
    },
  };
}

/**
 * A retried login gets the first answer again: the same session and the
 * same refresh token (derived, so nothing secret is stored), with a fresh
 * access token. Nothing is rotated, so whichever answer the client received
 * stays refreshable, once. When that token has been refreshed since, the
 * client did get the first answer; handing it out again would fork the
 * family, so the retry is refused and the session left alone.
 */
async function replay(deps: Dependencies, repos: Repositories, session: SessionRecord, idempotencyKey: string, now: Date) {
  const state = sessionState(session, now);
  if (state !== "active") {
    throw new DomainError(state === "revoked" ? "SESSION_REVOKED" : "SESSION_EXPIRED", `the session of this idempotency_key is ${state}`);
  }
  const first = deriveLoginToken(deps.graceKey, session.id, idempotencyKey);
  // Locked: a refresh of the same token waits for this answer, or this answer for it.
  const token = await repos.rotation.lockByHash(first.hash);
  if (token === null || token.rotatedAt !== null || token.revokedAt !== null) {
    throw new DomainError("LOGIN_ALREADY_REFRESHED", "the login of this idempotency_key was answered and its refresh token has been used since; keep the tokens of that answer");
  }
  if (token.expiresAt <= token.transactionStartedAt) throw new DomainError("TOKEN_EXPIRED", "the refresh token of this login has expired");
  return { session, refreshToken: first.token, refreshExpiresAt: token.expiresAt, refreshTokenId: token.id, replayed: true };
}

/** Runs under the user's row lock, so concurrent logins see each other's sessions. */
async function enforceSessionLimit(repos: Repositories, limit: number, userId: string, now: Date, caller: Caller, floor: VersionFloor) {
  if (limit === 0) return;
  // Sessions a version bump killed no longer count against the limit.
  const activeIds = await repos.sessions.activeSessionIdsOldestFirst(userId, now, floor);
  const excess = activeIds.length - limit + 1;
  if (excess > 0) await revokeSessions(repos, activeIds.slice(0, excess), SESSION_LIMIT_REASON, now, caller);
}
