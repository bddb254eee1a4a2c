import type { OrgScopes } from "../config.js";
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
