import type { LiveTokenInfo } from "../store/refresh-token-repository.js";
import type { Dependencies } from "./dependencies.js";
import { invalidArgument } from "./errors.js";
import { decodePageToken, encodePageToken, queryFingerprint } from "./page-token.js";
import { requiredId } from "./validation.js";

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

/** A user's live refresh tokens as metadata, one per live session, newest session first. */
export async function listUserTokens(
  deps: Dependencies,
  input: { userId: string; pageSize: number; pageToken: string },
): Promise<{ tokens: LiveTokenInfo[]; nextPageToken: string }> {
  const userId = requiredId("user_id", input.userId);
  if (!Number.isInteger(input.pageSize) || input.pageSize < 0 || input.pageSize > MAX_PAGE_SIZE) {
    throw invalidArgument("page_size", `must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  const pageSize = input.pageSize === 0 ? DEFAULT_PAGE_SIZE : input.pageSize;
  const query = queryFingerprint(["tokens", userId]);
  const after = input.pageToken.length === 0 ? null : decodePageToken(query, input.pageToken);
  const now = deps.clock.now();
  const rows = await deps.store.read(async ({ sessions, refreshTokens }) =>
    refreshTokens.listLive(userId, now, await sessions.versionFloor(userId), after, pageSize + 1),
  );
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextPageToken = rows.length > pageSize && last !== undefined ? encodePageToken(query, { createdAt: last.sessionCreatedAt, id: last.sessionId }) : "";
  return { tokens: page, nextPageToken };
}
