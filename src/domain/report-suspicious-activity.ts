import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertInReach } from "./org-scope.js";
import { revokeSessions } from "./revoke-sessions.js";
import { found } from "./session-state.js";
import { reason, sessionId } from "./validation.js";

export interface ReportSuspiciousActivityInput {
  readonly sessionId: string;
  readonly reason: string;
}

export const SUSPICIOUS_ACTIVITY_REASON = "suspicious_activity";

export async function reportSuspiciousActivity(
  deps: Dependencies,
  caller: Caller,
  input: ReportSuspiciousActivityInput,
): Promise<{ session: SessionRecord; revoked: boolean }> {
  const id = sessionId("session_id", input.sessionId);
  reason("reason", input.reason, SUSPICIOUS_ACTIVITY_REASON);
  const now = deps.clock.now();
  const threshold = deps.settings.suspiciousActivityThreshold;
  return deps.store.transaction(async (repos) => {
    assertInReach(deps.orgScopes, caller, await repos.sessions.findById(id));
    const counted = found(await repos.sessions.incrementSuspiciousActivity(id));
    // Each report sees its own count (count = count + 1 RETURNING), so exactly
    // the report that reaches the threshold decides, even when reports race.
    if (threshold === 0 || counted.suspiciousActivityCount < threshold || counted.revokedAt !== null) {
      return { session: counted, revoked: false };
    }
    const revoked = await revokeSessions(repos, [id], SUSPICIOUS_ACTIVITY_REASON, now, caller);
    return { session: found(await repos.sessions.findById(id)), revoked: revoked.length === 1 };
  });
}
