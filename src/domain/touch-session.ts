import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertInReach, sessionReach } from "./org-scope.js";
import { assertActive } from "./session-state.js";
import { optionalIp, sessionId } from "./validation.js";

export interface TouchSessionInput {
  readonly sessionId: string;
  readonly ipAddress: string;
}

export interface TouchResult {
  readonly session: SessionRecord;
  readonly recorded: boolean;
}

/**
 * Callers send this on every request, so a touch within the coalescing window
 * of the last recorded activity (and from the same IP) writes nothing.
 */
export async function touchSession(deps: Dependencies, caller: Caller, input: TouchSessionInput): Promise<TouchResult> {
  const id = sessionId("session_id", input.sessionId);
  const ipAddress = optionalIp("ip_address", input.ipAddress);
  const now = deps.clock.now();
  const coalesceBefore = new Date(now.getTime() - deps.settings.touchCoalesceMs);
  return deps.store.read(async ({ sessions }) => {
    // The write itself is limited to the caller's reach, so a session out of
    // it is never changed and the hot path needs no read before the write.
    const recorded = await sessions.touch(id, now, ipAddress, coalesceBefore, sessionReach(deps.orgScopes, caller));
    // Read after the write: either our update, a concurrent newer one, or the
    // reason nothing was written (missing, revoked, expired, coalesced). On a
    // session killed by a version bump the write may land (it only records
    // activity) but the answer is still SESSION_REVOKED; this is the hot path,
    // so no read comes first.
    const session = assertActive(assertInReach(deps.orgScopes, caller, await sessions.findById(id)), now);
    return { session, recorded };
  });
}
