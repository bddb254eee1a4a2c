import type { SessionRecord } from "../store/records.js";
import type { Dependencies } from "./dependencies.js";
import { invalidArgument } from "./errors.js";
import { decodePageToken, encodePageToken, queryFingerprint } from "./page-token.js";
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

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

export async function listSessions(deps: Dependencies, input: ListSessionsInput): Promise<SessionPage> {
  const userId = requiredId("user_id", input.userId);
  if (!Number.isInteger(input.pageSize) || input.pageSize < 0 || input.pageSize > MAX_PAGE_SIZE) {
    throw invalidArgument("page_size", `must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  const pageSize = input.pageSize === 0 ? DEFAULT_PAGE_SIZE : input.pageSize;
  const query = queryFingerprint([userId, input.includeInactive]);
  const after = input.pageToken.length === 0 ? null : decodePageToken(query, input.pageToken);
  const now = deps.clock.now();
  // One row more than asked tells whether another page exists without a count.
  const rows = await deps.store.read(({ sessions }) => sessions.list(userId, input.includeInactive, now, after, pageSize + 1));
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextPageToken = rows.length > pageSize && last !== undefined ? encodePageToken(query, last) : "";
  return { sessions: page, nextPageToken };
}
