import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertUnscoped } from "./org-scope.js";
import { requiredId } from "./validation.js";

/**
 * Account deletion: sessions and tokens are erased, not just revoked. Each
 * session still live gets a session_revoked event (ids only), so verifiers
 * drop its tokens; the user_data_deleted event keeps only the user id and
 * the user's new token version.
 *
 * The version bump is what makes the deletion last: a snapshot is built from
 * rows, and the erased sessions have none, so a verifier or replica that
 * starts after this (a restart, a resync) would otherwise accept their
 * access tokens until they expire. The users row stays as a tombstone
 * (reason "account_deleted", bumped now), which every snapshot within the
 * revocation window carries; a later login of the same user is stamped with
 * the new version and lives.
 */
export async function deleteUserData(deps: Dependencies, caller: Caller, userIdInput: string) {
  const userId = requiredId("user_id", userIdInput);
  assertUnscoped(deps.orgScopes, caller, "DeleteUserData");
  return deps.store.transaction(async (repos) => {
    // Bumped first: it locks the users row, so a login racing the deletion
    // either committed before (its session is erased here) or waits and is
    // stamped with the new version.
    const version = await repos.versions.bumpUserVersion(userId, "account_deleted");
    const { unrevoked, ...deleted } = await repos.sessions.deleteUserData(userId);
    await repos.events.record([
      ...unrevoked.map((session) => ({
        kind: "session_revoked" as const,
        sessionId: session.id,
        userId,
        orgId: session.activeOrgId,
        // The rows are gone by now: the event cannot read them.
        orgIds: session.orgIds,
        reason: "account_deleted",
        caller: caller.id,
      })),
      { kind: "user_data_deleted", sessionId: null, userId, orgId: null, version, reason: "account_deleted", caller: caller.id },
    ]);
    return deleted;
  });
}
