import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { sessionReach } from "./org-scope.js";
import { revokeSessions } from "./revoke-sessions.js";
import { optionalSessionId, reason, requiredId } from "./validation.js";

export interface RevokeUserSessionsInput {
  readonly userId: string;
  readonly exceptSessionId: string;
  readonly reason: string;
}

/** Returns how many sessions this call revoked. */
export async function revokeUserSessions(deps: Dependencies, caller: Caller, input: RevokeUserSessionsInput): Promise<number> {
  const userId = requiredId("user_id", input.userId);
  const exceptId = optionalSessionId("except_session_id", input.exceptSessionId);
  const why = reason("reason", input.reason, "revoked");
  const now = deps.clock.now();
  return deps.store.transaction(async (repos) => {
    // Only the sessions within the caller's reach: those it created (unless
    // granted any caller's), in its organisations. Ending every session of a
    // user whoever created them is RevokeUserTokens' job.
    const ids = await repos.sessions.activeSessionIdsOfUser(userId, now, exceptId, sessionReach(deps.orgScopes, caller));
    return (await revokeSessions(repos, ids, why, now, caller)).length;
  });
}
