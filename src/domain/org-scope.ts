import type { OrgScopes } from "../config.js";
import type { Store } from "../store/store.js";
import type { Caller } from "./context.js";
import { DomainError, invalidArgument } from "./errors.js";
import { requiredId } from "./validation.js";

const MAX_ORGS = 100;

/**
 * The organisations a call may see: those asked for, which must lie within
 * the caller's scope, or the whole scope when none are asked for. Undefined
 * means every organisation (an unscoped caller asking for none).
 */
export function visibleOrgs(scopes: OrgScopes, caller: Caller, requested: readonly string[]): readonly string[] | undefined {
  if (requested.length > MAX_ORGS) throw invalidArgument("org_ids", `must list at most ${MAX_ORGS} organisations`);
  for (const org of requested) requiredId("org_ids", org);
  const scope = scopes.get(caller.id);
  if (requested.length === 0) return scope;
  const outside = scope === undefined ? undefined : requested.find((org) => !scope.includes(org));
  if (outside !== undefined) {
    throw new DomainError("ORG_NOT_ALLOWED", `caller "${caller.id}" may not see organisation "${outside}"`, { metadata: { org_id: outside } });
  }
  return requested;
}

/** A caller limited to some organisations may only name one of them. */
export function assertOrgAllowed(scopes: OrgScopes, caller: Caller, org: string | null): void {
  const scope = scopes.get(caller.id);
  if (scope === undefined || (org !== null && scope.includes(org))) return;
  throw new DomainError("ORG_NOT_ALLOWED", `caller "${caller.id}" may only act in its organisations`, { metadata: { org_id: org ?? "" } });
}

/** User-wide actions reach every organisation: not for a caller limited to some. */
export function assertUnscoped(scopes: OrgScopes, caller: Caller, action: string): void {
  if (!scopes.has(caller.id)) return;
  throw new DomainError("ORG_NOT_ALLOWED", `${action} reaches every organisation; caller "${caller.id}" is limited to some`);
}

/**
 * For a caller limited to some organisations, a session outside them does
 * not exist (NOT_FOUND, as for an unknown id: nothing is revealed). Costs a
 * read only for such callers.
 */
export async function assertSessionInScope(scopes: OrgScopes, store: Store, caller: Caller, sessionId: string): Promise<void> {
  const scope = scopes.get(caller.id);
  if (scope === undefined) return;
  const session = await store.read(({ sessions }) => sessions.findById(sessionId));
  if (session === null || session.activeOrgId === null || !scope.includes(session.activeOrgId)) {
    throw new DomainError("SESSION_NOT_FOUND", "no session has this id");
  }
}
