import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { sessionReach } from "./org-scope.js";
import { cutPage, decodePageToken, pageSize, queryFingerprint } from "./page-token.js";
import { requiredId } from "./validation.js";

export interface ListSessionsInput {
  readonly userId: string;
  readonly includeInactive: boolean;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface SessionPage {
  readonly sessions: readonly SessionRecord[];
  readonly nextPageToken: string;
}

export async function listSessions(deps: Dependencies, caller: Caller, input: ListSessionsInput): Promise<SessionPage> {
  const userId = requiredId("user_id", input.userId);
  const size = pageSize(input.pageSize);
  const query = queryFingerprint([userId, input.includeInactive]);
  const after = input.pageToken.length === 0 ? null : decodePageToken(query, input.pageToken);
  const now = deps.clock.now();
  // Only the sessions the caller created (unless it may reach any caller's), in its organisations.
  const reach = sessionReach(deps.orgScopes, caller);
  const rows = await deps.store.read(({ sessions }) => sessions.list(userId, input.includeInactive, now, after, size + 1, reach));
  const { items, nextPageToken } = cutPage(rows, size, query, (session) => session);
  return { sessions: items, nextPageToken };
}
