import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertUnscoped } from "./org-scope.js";
import { requiredId } from "./validation.js";

/**
 * Account deletion: sessions and tokens are erased, not just revoked. Each
 * session still live gets a session_revoked event (ids only), so verifiers
 * drop its tokens; the user_data_deleted event keeps only the user id.
 */
export async function deleteUserData(deps: Dependencies, caller: Caller, userIdInput: string) {
  const userId = requiredId("user_id", userIdInput);
  assertUnscoped(deps.orgScopes, caller, "DeleteUserData");
  return deps.store.transaction(async (repos) => {
    const { unrevoked, ...deleted } = await repos.sessions.deleteUserData(userId);
    await repos.events.record([
      ...unrevoked.map((session) => ({
        kind: "session_revoked" as const,
        sessionId: session.id,
        userId,
        orgId: session.activeOrgId,
        reason: "account_deleted",
        caller: caller.id,
      })),
      { kind: "user_data_deleted", sessionId: null, userId, orgId: null, reason: "account_deleted", caller: caller.id },
    ]);
    return deleted;
  });
}
