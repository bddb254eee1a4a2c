import { refreshTokenIdRangeOf } from "../crypto/access-token.js";
import type { SessionRecord } from "../store/records.js";
import type { Dependencies } from "./dependencies.js";
import { invalidArgument } from "./errors.js";
import { requiredId, sessionId } from "./validation.js";

/** What an operator knows: a user, an organisation, a session id, or an access token's `jti` from a log. */
export type SessionQuery =
  | { readonly userId: string }
  | { readonly orgId: string }
  | { readonly sessionId: string }
  | { readonly jti: string };

/**
 * Sessions in every state (revoked and expired ones too: an incident needs
 * them), newest first, at most `limit`. Operators only: no caller scoping.
 */
export async function findSessions(deps: Pick<Dependencies, "store" | "clock">, query: SessionQuery, limit: number): Promise<SessionRecord[]> {
  const now = deps.clock.now();
  if ("userId" in query) {
    const userId = requiredId("user", query.userId);
    return deps.store.read(({ sessions }) => sessions.list(userId, true, now, null, limit));
  }
  if ("orgId" in query) {
    const orgId = requiredId("org", query.orgId);
    return deps.store.read(({ sessions }) => sessions.listByOrg(orgId, limit));
  }
  const ids =
    "sessionId" in query
      ? [sessionId("session", query.sessionId)]
      : await deps.store.read(({ refreshTokens }) => {
          const range = refreshTokenIdRangeOf(query.jti);
          if (range === undefined) throw invalidArgument("jti", "must be a UUID, as in the access tokens this server issues");
          return refreshTokens.sessionIdsByTokenIdRange(range.from, range.to);
        });
  const found = await deps.store.read(({ sessions }) => Promise.all(ids.map((id) => sessions.findById(id))));
  return found
    .filter((session): session is SessionRecord => session !== null)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
    .slice(0, limit);
}
