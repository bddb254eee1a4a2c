import type { SessionRecord } from "../store/records.js";
import type { Dependencies } from "./dependencies.js";
import { decodePageToken, encodePageToken, pageSize, queryFingerprint } from "./page-token.js";
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

export async function listSessions(deps: Dependencies, input: ListSessionsInput): Promise<SessionPage> {
  const userId = requiredId("user_id", input.userId);
  const size = pageSize(input.pageSize);
  const query = queryFingerprint([userId, input.includeInactive]);
  const after = input.pageToken.length === 0 ? null : decodePageToken(query, input.pageToken);
  const now = deps.clock.now();
  // One row more than asked tells whether another page exists without a count.
  const rows = await deps.store.read(({ sessions }) => sessions.list(userId, input.includeInactive, now, after, size + 1));
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  const nextPageToken = rows.length > size && last !== undefined ? encodePageToken(query, last) : "";
  return { sessions: page, nextPageToken };
}
