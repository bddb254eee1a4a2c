import type { OrgScopes } from "../config.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionReach } from "../store/session-repository.js";
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
 * The sessions a caller may list or act on: those of its organisations (all
 * when it is not limited to some) and, unless it may reach any caller's,
 * only those it created.
 */
export function sessionReach(scopes: OrgScopes, caller: Caller): SessionReach {
  return { orgs: scopes.get(caller.id), createdBy: caller.anyCaller === true ? undefined : caller.id };
}

/** Why a session is out of the caller's reach, for the log (ids and caller names only); undefined when within it. */
export function outOfReach(scopes: OrgScopes, caller: Caller, session: SessionRecord): string | undefined {
  const scope = scopes.get(caller.id);
  if (scope !== undefined && (session.activeOrgId === null || !scope.includes(session.activeOrgId))) {
    return `session ${session.id} is outside the organisations of caller "${caller.id}"`;
  }
  if (caller.anyCaller !== true && session.createdBy !== caller.id) {
    return `session ${session.id} was created by caller "${session.createdBy}", not by "${caller.id}"`;
  }
  return undefined;
}

/**
 * A session out of the caller's reach — another organisation's, or another
 * caller's — does not exist for it: NOT_FOUND exactly as for an unknown id,
 * checked before its state so nothing (not even "revoked") is revealed. The
 * reason goes to the log as a warning, never to the caller.
 */
export function assertInReach(scopes: OrgScopes, caller: Caller, session: SessionRecord | null): SessionRecord {
  const refused = session === null ? undefined : outOfReach(scopes, caller, session);
  if (session === null || refused !== undefined) {
    throw new DomainError("SESSION_NOT_FOUND", "no session has this id", refused === undefined ? {} : { cause: refused });
  }
  return session;
}

/** The session with this id, if within the caller's reach (one read); see assertInReach. */
export async function sessionInReach(scopes: OrgScopes, store: Store, caller: Caller, sessionId: string): Promise<SessionRecord> {
  return assertInReach(scopes, caller, await store.read(({ sessions }) => sessions.findById(sessionId)));
}
