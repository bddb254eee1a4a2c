import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertInReach } from "./org-scope.js";
import { revokeSessions } from "./revoke-sessions.js";
import { found } from "./session-state.js";
import { reason, sessionId } from "./validation.js";

export interface RevokeSessionInput {
  readonly sessionId: string;
  readonly reason: string;
}

/** Idempotent: an already revoked session is returned as it is, first reason kept. */
export async function revokeSession(deps: Pick<Dependencies, "store" | "clock" | "orgScopes">, caller: Caller, input: RevokeSessionInput): Promise<SessionRecord> {
  const id = sessionId("session_id", input.sessionId);
  const why = reason("reason", input.reason, "revoked");
  const now = deps.clock.now();
  return deps.store.transaction(async (repos) => {
    assertInReach(deps.orgScopes, caller, await repos.sessions.findById(id));
    await revokeSessions(repos, [id], why, now, caller);
    return found(await repos.sessions.findById(id));
  });
}
