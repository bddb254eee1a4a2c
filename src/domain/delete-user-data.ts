import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { requiredId } from "./validation.js";

/**
 * Account deletion: sessions and tokens are erased, not just revoked. The
 * event keeps only the user id, so verifiers can drop cached tokens.
 */
export async function deleteUserData(deps: Dependencies, caller: Caller, userIdInput: string) {
  const userId = requiredId("user_id", userIdInput);
  return deps.store.transaction(async (repos) => {
    const deleted = await repos.sessions.deleteUserData(userId);
    await repos.sessions.recordEvents([
      { kind: "user_data_deleted", sessionId: null, userId, orgId: null, reason: "account_deleted", caller: caller.id },
    ]);
    return deleted;
  });
}
