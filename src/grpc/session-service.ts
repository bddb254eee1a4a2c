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
import { unaryFor } from "./unary.js";

// Transport only: decode the request, call the use case, encode the answer.

function authenticationInput(context: AuthenticationContext__Output | null | undefined) {
  return {
    amr: context?.amr ?? [],
    acr: context?.acr ?? "",
    authTime: fromTimestamp("authentication.auth_time", context?.auth_time ?? null),
  };
}

export function sessionServiceHandlers(deps: Dependencies, logger: Logger): SessionServiceHandlers {
  const unary = unaryFor(deps, logger);
  const now = () => deps.clock.now();
  return {
    CreateSession: unary(async (request, { caller, deps }) => {
      const result = await createSession(deps, caller, {
        userId: request.user_id,
        activeOrgId: request.active_org_id,
        deviceName: request.device_name,
        userAgent: request.user_agent,
        ipAddress: request.ip_address,
        location: request.location,
        isTrusted: request.is_trusted,
        authentication: authenticationInput(request.authentication),
        extraClaims: fromStruct("extra_claims", request.extra_claims),
        accessTtlMs: fromDuration("access_token_ttl", request.access_token_ttl),
        refreshTtlMs: fromDuration("refresh_token_ttl", request.refresh_token_ttl),
        sessionTtlMs: fromDuration("session_ttl", request.session_ttl),
        idempotencyKey: request.idempotency_key,
      });
      return { session: toSessionMessage(result.session, now()), tokens: toTokenPair(result.tokens), replayed: result.replayed };
    }),

    GetSession: unary(async (request, { caller, deps }) => {
      if (request.lookup === undefined) throw invalidArgument("lookup", "set session_id or refresh_token");
      const input = request.lookup === "session_id" ? { sessionId: request.session_id ?? "" } : { refreshToken: request.refresh_token ?? "" };
      return { session: toSessionMessage(await getSession(deps, caller, input), now()) };
    }),

    ListSessions: unary(async (request, { caller, deps }) => {
      const page = await listSessions(deps, caller, {
        userId: request.user_id,
        includeInactive: request.include_inactive,
        pageSize: request.page_size,
        pageToken: request.page_token,
      });
      const at = now();
      return { sessions: page.sessions.map((session) => toSessionMessage(session, at)), next_page_token: page.nextPageToken };
    }),

    TouchSession: unary(async (request, { caller, deps }) => {
      const result = await touchSession(deps, caller, { sessionId: request.session_id, ipAddress: request.ip_address });
      return { session: toSessionMessage(result.session, now()), recorded: result.recorded };
    }),

    UpdateSession: unary(async (request, { caller, deps }) => {
      const session = await updateSession(deps, caller, {
        sessionId: request.session_id,
        // Synthetic oneofs tell which proto3 `optional` fields were sent.
        deviceName: request._device_name === "device_name" ? request.device_name : undefined,
        isTrusted: request._is_trusted === "is_trusted" ? request.is_trusted : undefined,
        location: request._location === "location" ? request.location : undefined,
        activeOrgId: request._active_org_id === "active_org_id" ? request.active_org_id : undefined,
        authentication: request.authentication == null ? undefined : authenticationInput(request.authentication),
        extraClaims: request.extra_claims == null ? undefined : fromStruct("extra_claims", request.extra_claims),
      });
      return { session: toSessionMessage(session, now()) };
    }),

    RevokeSession: unary(async (request, { caller, deps }) => {
      const session = await revokeSession(deps, caller, { sessionId: request.session_id, reason: request.reason });
      return { session: toSessionMessage(session, now()) };
    }),

    RevokeUserSessions: unary(async (request, { caller, deps }) => {
      const revokedCount = await revokeUserSessions(deps, caller, {
        userId: request.user_id,
        exceptSessionId: request.except_session_id,
        reason: request.reason,
      });
      return { revoked_count: revokedCount };
    }),

    ReportSuspiciousActivity: unary(async (request, { caller, deps }) => {
      const result = await reportSuspiciousActivity(deps, caller, { sessionId: request.session_id, reason: request.reason });
      return { session: toSessionMessage(result.session, now()), revoked: result.revoked };
    }),

    RecordProviderAccess: unary(async (request, { caller, deps }) => {
      const session = await recordProviderAccess(deps, caller, {
        sessionId: request.session_id,
        provider: request.provider,
        syncTime: fromTimestamp("sync_time", request.sync_time),
      });
      return { session: toSessionMessage(session, now()) };
    }),

    DeleteUserData: unary(async (request, { caller, deps }) => {
      const deleted = await deleteUserData(deps, caller, request.user_id);
      return { deleted_session_count: deleted.sessions, deleted_token_count: deleted.tokens };
    }),
  };
}
