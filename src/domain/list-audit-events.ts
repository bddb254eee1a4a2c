import type { StoredAuditEvent } from "../store/audit-repository.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { invalidArgument } from "./errors.js";
import { decodeIdPageToken, encodeIdPageToken, pageSize, queryFingerprint } from "./page-token.js";
import { optionalId, optionalSessionId } from "./validation.js";

const PAGE_BOUNDS = { fallback: 50, max: 500 };
const MAX_ACTIONS = 20;

export interface AuditQuery {
  readonly userId: string;
  readonly sessionId: string;
  readonly actor: string;
  readonly actions: readonly string[];
  readonly since: Date | undefined;
  readonly until: Date | undefined;
  readonly pageSize: number;
  readonly pageToken: string;
}

/** The audit log, newest first; a caller limited to some organisations sees only theirs. */
export async function listAuditEvents(deps: Dependencies, caller: Caller, input: AuditQuery): Promise<{ events: StoredAuditEvent[]; nextPageToken: string }> {
  const size = pageSize(input.pageSize, PAGE_BOUNDS);
  if (input.actions.length > MAX_ACTIONS) throw invalidArgument("actions", `must list at most ${MAX_ACTIONS} actions`);
  const filter = {
    userId: optionalId("user_id", input.userId) ?? undefined,
    sessionId: optionalSessionId("session_id", input.sessionId) ?? undefined,
    actor: optionalId("actor", input.actor, 512) ?? undefined,
    actions: input.actions.map((action) => optionalId("actions", action, 64) ?? ""),
    since: input.since,
    until: input.until,
    orgs: deps.orgScopes.get(caller.id),
  };
  if (filter.actions.includes("")) throw invalidArgument("actions", "must not hold an empty action");
  const query = queryFingerprint(["audit", filter.userId, filter.sessionId, filter.actor, filter.actions, filter.since, filter.until]);
  const beforeId = input.pageToken.length === 0 ? null : decodeIdPageToken(query, input.pageToken);
  const rows = await deps.store.read(({ audit }) => audit.list(filter, beforeId, size + 1));
  const events = rows.slice(0, size);
  const last = events.at(-1);
  return { events, nextPageToken: rows.length > size && last !== undefined ? encodeIdPageToken(query, last.id) : "" };
}
