import type { Dependencies } from "../domain/dependencies.js";
import { listAuditEvents } from "../domain/list-audit-events.js";
import type { AuditServiceHandlers } from "../generated/proto/types/sessionauthority/v1/AuditService.js";
import type { Logger } from "../logger.js";
import { fromTimestamp, toTimestamp } from "./convert.js";
import { unaryFor } from "./unary.js";

export function auditServiceHandlers(deps: Dependencies, logger: Logger): AuditServiceHandlers {
  const unary = unaryFor(deps, logger);
  return {
    ListAuditEvents: unary(async (request, { caller, deps }) => {
      const page = await listAuditEvents(deps, caller, {
        userId: request.user_id,
        sessionId: request.session_id,
        actor: request.actor,
        actions: request.actions,
        since: fromTimestamp("since", request.since),
        until: fromTimestamp("until", request.until),
        pageSize: request.page_size,
        pageToken: request.page_token,
      });
      return {
        events: page.events.map((event) => ({
          id: event.id.toString(),
          occurred_at: toTimestamp(event.occurredAt),
          actor: event.actor,
          action: event.action,
          reason: event.reason,
          user_id: event.userId ?? "",
          session_id: event.sessionId ?? "",
          org_id: event.orgId ?? "",
          key_id: event.keyId ?? "",
          version: (event.version ?? 0n).toString(),
          method: event.method ?? "",
          peer: event.peer ?? "",
          count: event.count,
        })),
        next_page_token: page.nextPageToken,
      };
    }),
  };
}
