import { createSession } from "../domain/create-session.js";
import { deleteUserData } from "../domain/delete-user-data.js";
import type { Dependencies } from "../domain/dependencies.js";
import { invalidArgument } from "../domain/errors.js";
import { getSession } from "../domain/get-session.js";
import { listSessions } from "../domain/list-sessions.js";
import { recordProviderAccess } from "../domain/record-provider-access.js";
import { reportSuspiciousActivity } from "../domain/report-suspicious-activity.js";
import { revokeSession } from "../domain/revoke-session.js";
import { revokeUserSessions } from "../domain/revoke-user-sessions.js";
import { touchSession } from "../domain/touch-session.js";
import { updateSession } from "../domain/update-session.js";
import type { AuthenticationContext__Output } from "../generated/proto/types/sessionauthority/v1/AuthenticationContext.js";
import type { SessionServiceHandlers } from "../generated/proto/types/sessionauthority/v1/SessionService.js";
import type { Logger } from "../logger.js";
import { fromDuration, fromStruct, fromTimestamp } from "./convert.js";
import { toSessionMessage, toTokenPair } from "./session-message.js";
import { unary } from "./unary.js";

// Transport only: decode the request, call the use case, encode the answer.

function authenticationInput(context: AuthenticationContext__Output | null) {
  return {
    amr: context?.amr ?? [],
    acr: context?.acr ?? "",
    authTime: fromTimestamp("authentication.auth_time", context?.authTime ?? null),
  };
}

export function sessionServiceHandlers(deps: Dependencies, logger: Logger): SessionServiceHandlers {
  const now = () => deps.clock.now();
  return {
    CreateSession: unary(logger, async (request, { caller }) => {
      const result = await createSession(deps, caller, {
        userId: request.userId,
        activeOrgId: request.activeOrgId,
        deviceName: request.deviceName,
        userAgent: request.userAgent,
        ipAddress: request.ipAddress,
        location: request.location,
        isTrusted: request.isTrusted,
        authentication: authenticationInput(request.authentication),
        extraClaims: fromStruct("extra_claims", request.extraClaims),
        accessTtlMs: fromDuration("access_token_ttl", request.accessTokenTtl),
        refreshTtlMs: fromDuration("refresh_token_ttl", request.refreshTokenTtl),
        sessionTtlMs: fromDuration("session_ttl", request.sessionTtl),
        idempotencyKey: request.idempotencyKey,
      });
      return { session: toSessionMessage(result.session, now()), tokens: toTokenPair(result.tokens), replayed: result.replayed };
    }),

    GetSession: unary(logger, async (request) => {
      if (request.lookup === undefined) throw invalidArgument("lookup", "set session_id or refresh_token");
      const input = request.lookup === "sessionId" ? { sessionId: request.sessionId ?? "" } : { refreshToken: request.refreshToken ?? "" };
      return { session: toSessionMessage(await getSession(deps, input), now()) };
    }),

    ListSessions: unary(logger, async (request) => {
      const page = await listSessions(deps, {
        userId: request.userId,
        includeInactive: request.includeInactive,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      const at = now();
      return { sessions: page.sessions.map((session) => toSessionMessage(session, at)), nextPageToken: page.nextPageToken };
    }),

    TouchSession: unary(logger, async (request) => {
      const result = await touchSession(deps, { sessionId: request.sessionId, ipAddress: request.ipAddress });
      return { session: toSessionMessage(result.session, now()), recorded: result.recorded };
    }),

    UpdateSession: unary(logger, async (request) => {
      const session = await updateSession(deps, {
        sessionId: request.sessionId,
        // Synthetic oneofs tell which proto3 `optional` fields were sent.
        deviceName: request._deviceName === "deviceName" ? request.deviceName : undefined,
        isTrusted: request._isTrusted === "isTrusted" ? request.isTrusted : undefined,
        location: request._location === "location" ? request.location : undefined,
        activeOrgId: request._activeOrgId === "activeOrgId" ? request.activeOrgId : undefined,
        authentication: request.authentication === null ? undefined : authenticationInput(request.authentication),
        extraClaims: request.extraClaims === null ? undefined : fromStruct("extra_claims", request.extraClaims),
      });
      return { session: toSessionMessage(session, now()) };
    }),

    RevokeSession: unary(logger, async (request, { caller }) => {
      const session = await revokeSession(deps, caller, { sessionId: request.sessionId, reason: request.reason });
      return { session: toSessionMessage(session, now()) };
    }),

    RevokeUserSessions: unary(logger, async (request, { caller }) => {
      const revokedCount = await revokeUserSessions(deps, caller, {
        userId: request.userId,
        exceptSessionId: request.exceptSessionId,
        reason: request.reason,
      });
      return { revokedCount };
    }),

    ReportSuspiciousActivity: unary(logger, async (request, { caller }) => {
      const result = await reportSuspiciousActivity(deps, caller, { sessionId: request.sessionId, reason: request.reason });
      return { session: toSessionMessage(result.session, now()), revoked: result.revoked };
    }),

    RecordProviderAccess: unary(logger, async (request) => {
      const session = await recordProviderAccess(deps, {
        sessionId: request.sessionId,
        provider: request.provider,
        syncTime: fromTimestamp("sync_time", request.syncTime),
      });
      return { session: toSessionMessage(session, now()) };
    }),

    DeleteUserData: unary(logger, async (request, { caller }) => {
      const deleted = await deleteUserData(deps, caller, request.userId);
      return { deletedSessionCount: deleted.sessions, deletedTokenCount: deleted.tokens };
    }),
  };
}
