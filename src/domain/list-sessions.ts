import type { SessionRecord } from "../store/records.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
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
  // A caller limited to some organisations sees only their sessions.
  const orgs = deps.orgScopes.get(caller.id);
  const rows = await deps.store.read(({ sessions }) => sessions.list(userId, input.includeInactive, now, after, size + 1, orgs));
  const { items, nextPageToken } = cutPage(rows, size, query, (session) => session);
  return { sessions: items, nextPageToken };
}
