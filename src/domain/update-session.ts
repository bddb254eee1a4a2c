import type { SessionChanges, SessionRecord } from "../store/records.js";
import { validateAuthentication, type AuthenticationInput } from "./authentication-context.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertInReach, assertOrgAllowed } from "./org-scope.js";
import { validateExtraClaims } from "./extra-claims.js";
import { assertActive } from "./session-state.js";
import { optionalId, optionalText, sessionId } from "./validation.js";

/** Only fields that are present change. */
export interface UpdateSessionInput {
  readonly sessionId: string;
  readonly deviceName?: string | undefined;
  readonly isTrusted?: boolean | undefined;
  readonly location?: string | undefined;
  readonly activeOrgId?: string | undefined;
  readonly authentication?: AuthenticationInput | undefined;
  readonly extraClaims?: Record<string, unknown> | undefined;
}

export async function updateSession(deps: Dependencies, caller: Caller, input: UpdateSessionInput): Promise<SessionRecord> {
  const id = sessionId("session_id", input.sessionId);
  const now = deps.clock.now();
  const changes: { -readonly [K in keyof SessionChanges]: SessionChanges[K] } = {};
  if (input.deviceName !== undefined) changes.deviceName = optionalText("device_name", input.deviceName, 256);
  if (input.isTrusted !== undefined) changes.isTrusted = input.isTrusted;
  if (input.location !== undefined) changes.location = optionalText("location", input.location, 128);
  if (input.activeOrgId !== undefined) {
    changes.activeOrgId = optionalId("active_org_id", input.activeOrgId);
    assertOrgAllowed(deps.orgScopes, caller, changes.activeOrgId);
  }
  if (input.authentication !== undefined) Object.assign(changes, validateAuthentication(input.authentication, now));
  if (input.extraClaims !== undefined) changes.extraClaims = validateExtraClaims("extra_claims", input.extraClaims);
  return deps.store.read(async ({ sessions }) => {
    // Checked first: a session out of the caller's reach does not exist for
    // it; one killed by a version bump is revoked only when read, and must not
    // be changed. The guarded update then changes only a session still active
    // at write time.
    assertActive(assertInReach(deps.orgScopes, caller, await sessions.findById(id)), now);
    await sessions.update(id, now, changes);
    return assertActive(await sessions.findById(id), now);
  });
}
