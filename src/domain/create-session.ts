import { randomUUID } from "node:crypto";
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
  const refresh = deps.tokens.refreshToken();

  const outcome = await deps.store.transaction(async (repos) => {
    const { tokenVersion, globalVersion } = await repos.sessions.lockUser(userId);
    if (idempotencyKey !== null) {
      const earlier = await repos.sessions.findByIdempotencyKey(userId, idempotencyKey);
      if (earlier !== null && earlier.createdAt.getTime() >= now.getTime() - IDEMPOTENCY_WINDOW_MS) {
        // A key is one login by one caller; another caller never gets that session.
        if (earlier.createdBy !== caller.id) {
          throw invalidArgument("idempotency_key", "was already used for another login of this user");
        }
        return replay(repos, caller, earlier, refresh.hash, now, lifetimes.refreshMs);
      }
      // Past its window the key protects nothing; the retention sweep may not have freed it yet.
      if (earlier !== null) await repos.sessions.forgetIdempotencyKey(earlier.id);
    }
    await enforceSessionLimit(repos, deps.settings.maxActivePerUser, userId, now, caller, { tokenVersion, globalVersion });
    const session = await repos.sessions.insert({
      id: randomUUID(),
      userId,
      ...fields,
      ipAddress,
      isTrusted: input.isTrusted,
      ...authentication,
      extraClaims,
      createdBy: caller.id,
      idempotencyKey,
      tokenVersion,
      globalVersion,
      createdAt: now,
      expiresAt: new Date(now.getTime() + lifetimes.sessionMs),
      refreshTtlSeconds: Math.ceil(lifetimes.refreshMs / 1000),
    });
    const refreshExpiresAt = refreshExpiry(session, now, lifetimes.refreshMs);
    const refreshTokenId = randomUUID();
    await repos.refreshTokens.insert({
      id: refreshTokenId,
      sessionId: session.id,
      parentId: null,
      hash: refresh.hash,
      tokenVersion,
      globalVersion,
      issuedAt: now,
      expiresAt: refreshExpiresAt,
    });
    await repos.events.record([
      { kind: "session_created", sessionId: session.id, userId, orgId: session.activeOrgId, reason: "login", caller: caller.id },
    ]);
    return { session, refreshExpiresAt, refreshTokenId, replayed: false };
  });

  const access = await deps.tokens.accessToken(outcome.session, lifetimes.accessMs, outcome.refreshTokenId);
  return {
    session: outcome.session,
    replayed: outcome.replayed,
    tokens: {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: refresh.token,
      refreshTokenExpiresAt: outcome.refreshExpiresAt,
    },
  };
}

function refreshExpiry(session: SessionRecord, now: Date, refreshMs: number): Date {
  return new Date(Math.min(now.getTime() + refreshMs, session.expiresAt.getTime()));
}

/**
 * A retried login gets the first session back with a working token pair: the
 * session's live refresh token is rotated to the new one, exactly as a refresh
 * would, so the session never has two live tokens and no other session is evicted.
 */
async function replay(repos: Repositories, caller: Caller, session: SessionRecord, hash: Buffer, now: Date, refreshMs: number) {
  const state = sessionState(session, now);
  if (state !== "active") {
    throw new DomainError(state === "revoked" ? "SESSION_REVOKED" : "SESSION_EXPIRED", `the session of this idempotency_key is ${state}`);
  }
  const live = await repos.refreshTokens.findLive(session.id);
  if (live !== null && !(await repos.rotation.markRotated(live.id, caller.id, null))) {
    throw new DomainError("CONCURRENT_REFRESH", "the session's token was refreshed at the same moment; retry the login");
  }
  const refreshExpiresAt = refreshExpiry(session, now, refreshMs);
  const refreshTokenId = randomUUID();
  await repos.refreshTokens.insert({
    id: refreshTokenId,
    sessionId: session.id,
    parentId: live?.id ?? null,
    hash,
    tokenVersion: session.tokenVersion,
    globalVersion: session.globalVersion,
    issuedAt: now,
    expiresAt: refreshExpiresAt,
  });
  return { session, refreshExpiresAt, refreshTokenId, replayed: true };
}

/** Runs under the user's row lock, so concurrent logins see each other's sessions. */
async function enforceSessionLimit(repos: Repositories, limit: number, userId: string, now: Date, caller: Caller, floor: VersionFloor) {
  if (limit === 0) return;
  // Sessions a version bump killed no longer count against the limit.
  const activeIds = await repos.sessions.activeSessionIdsOldestFirst(userId, now, floor);
  const excess = activeIds.length - limit + 1;
  if (excess > 0) await revokeSessions(repos, activeIds.slice(0, excess), SESSION_LIMIT_REASON, now, caller);
}
