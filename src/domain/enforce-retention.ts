import { IDEMPOTENCY_WINDOW_MS } from "./create-session.js";
import type { Dependencies } from "./dependencies.js";

/**
 * Personal data (IP addresses, user agents) is kept only as long as the
 * configured retention; idempotency keys only as long as a retry can come.
 */
export async function enforceRetention(deps: Dependencies): Promise<{ erased: number }> {
  const now = deps.clock.now();
  const erased = await deps.store.read(({ sessions }) =>
    sessions.eraseClientInfo(new Date(now.getTime() - deps.settings.clientInfoRetentionMs), now),
  );
  await deps.store.read(({ sessions }) => sessions.forgetIdempotencyKeys(new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS)));
  return { erased };
}
