import type { LiveTokenInfo } from "../store/refresh-token-repository.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { sessionReach } from "./org-scope.js";
import { cutPage, decodePageToken, pageSize, queryFingerprint } from "./page-token.js";
import { requiredId } from "./validation.js";

/** A user's live refresh tokens as metadata, one per live session, newest session first. */
export async function listUserTokens(
  deps: Dependencies,
  caller: Caller,
  input: { userId: string; pageSize: number; pageToken: string },
): Promise<{ tokens: LiveTokenInfo[]; nextPageToken: string }> {
  const userId = requiredId("user_id", input.userId);
  const size = pageSize(input.pageSize);
  const query = queryFingerprint(["tokens", userId]);
  const after = input.pageToken.length === 0 ? null : decodePageToken(query, input.pageToken);
  const now = deps.clock.now();
  const rows = await deps.store.read(async ({ sessions, refreshTokens }) =>
    // Only the tokens of sessions within the caller's reach (its own, in its organisations).
    refreshTokens.listLive(userId, now, await sessions.versionFloor(userId), after, size + 1, sessionReach(deps.orgScopes, caller)),
  );
  const { items, nextPageToken } = cutPage(rows, size, query, (token) => ({ createdAt: token.sessionCreatedAt, id: token.sessionId }));
  return { tokens: items, nextPageToken };
}
