import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertInReach } from "./org-scope.js";
import { invalidArgument } from "./errors.js";
import { assertActive } from "./session-state.js";
import { requiredId, sessionId } from "./validation.js";

export interface RecordProviderAccessInput {
  readonly sessionId: string;
  readonly provider: string;
  readonly syncTime: Date | undefined;
}

export async function recordProviderAccess(deps: Dependencies, caller: Caller, input: RecordProviderAccessInput): Promise<SessionRecord> {
  const id = sessionId("session_id", input.sessionId);
  const provider = requiredId("provider", input.provider, 128);
  const now = deps.clock.now();
  const syncTime = input.syncTime ?? now;
  if (syncTime.getTime() > now.getTime() + 60_000) throw invalidArgument("sync_time", "must not be in the future");
  return deps.store.read(async ({ sessions }) => {
    // Checked first: out of reach is unknown, and a version-killed session is revoked only when read (see update-session.ts).
    assertActive(assertInReach(deps.orgScopes, caller, await sessions.findById(id)), now);
    await sessions.recordProviderAccess(id, now, provider, syncTime);
    return assertActive(await sessions.findById(id), now);
  });
}
