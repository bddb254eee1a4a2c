import type { SessionRecord } from "../store/records.js";
import type { Repositories } from "../store/store.js";
import type { Caller } from "./context.js";

/**
 * Revokes sessions with their live tokens and writes one event per session
 * actually revoked, inside the caller's transaction (so the event can never
 * exist without the revocation, or the other way round).
 */
export async function revokeSessions(
  repos: Repositories,
  ids: readonly string[],
  reason: string,
  now: Date,
  caller: Caller,
): Promise<SessionRecord[]> {
  const revoked = await repos.sessions.revoke(ids, reason, now);
  await repos.events.record(
    revoked.map((session) => ({
      kind: "session_revoked" as const,
      sessionId: session.id,
      userId: session.userId,
      orgId: session.activeOrgId,
      reason,
      caller: caller.id,
    })),
  );
  return revoked;
}
