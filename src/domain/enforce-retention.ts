import { IDEMPOTENCY_WINDOW_MS } from "./create-session.js";
import type { Dependencies } from "./dependencies.js";
import { snapshotReachMs } from "./revocation-snapshot.js";

/**
 * Personal data (IP addresses, user agents) is kept only as long as the
 * configured retention; idempotency keys only as long as a retry can come.
 */
export async function enforceRetention(deps: Dependencies): Promise<{ erased: number; deleted: number; events: number; audit: number }> {
  const now = deps.clock.now();
  const erased = await deps.store.read(({ sessions }) =>
    sessions.eraseClientInfo(new Date(now.getTime() - deps.settings.clientInfoRetentionMs), now),
  );
  await deps.store.read(({ sessions }) => sessions.forgetIdempotencyKeys(new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS)));
  return { erased, deleted: await deleteEndedSessions(deps), events: await pruneEvents(deps), audit: await pruneAudit(deps) };
}

/** The audit log has its own retention, usually far longer than the sessions and events it describes. */
function pruneAudit(deps: Dependencies): Promise<number> {
  const before = new Date(deps.clock.now().getTime() - deps.auditRetentionMs);
  return inBatches((batch) => deps.store.read(({ audit }) => audit.prune(before, batch)));
}

/** Events older than their retention go; watchers behind them must resync from a snapshot. */
function pruneEvents(deps: Dependencies): Promise<number> {
  const before = new Date(deps.clock.now().getTime() - deps.eventRetentionMs);
  return inBatches((batch) => deps.store.read(({ events }) => events.prune(before, batch)));
}

/**
 * Runs a bounded delete until it deletes less than a batch (or 100 batches
 * ran): short statements, so the cleanup never holds locks that refreshes
 * would queue behind. Returns how many rows went.
 */
async function inBatches(deleteBatch: (size: number) => Promise<number>, maxBatches = 100): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch += 1) {
    const count = await deleteBatch(DELETE_BATCH);
    deleted += count;
    if (count < DELETE_BATCH) break;
  }
  return deleted;
}

const DELETE_BATCH = 1000;

/**
 * Deletes sessions, with every token of their families, once they ended
 * longer ago than the retention, and never within a snapshot's reach: a
 * revoked session's row is what tells a verifier that starts later (a
 * restart, a new replica) that its still unexpired access tokens are dead.
 */
export function deleteEndedSessions(
  deps: Pick<Dependencies, "store" | "clock"> & {
    readonly settings: Pick<Dependencies["settings"], "endedSessionRetentionMs" | "accessTtlMaxMs" | "accessTokenLeewayMs">;
  },
  maxBatches = 100,
): Promise<number> {
  const keepMs = Math.max(deps.settings.endedSessionRetentionMs, snapshotReachMs(deps.settings));
  const endedBefore = new Date(deps.clock.now().getTime() - keepMs);
  return inBatches((batch) => deps.store.read(({ sessions }) => sessions.deleteEndedBefore(endedBefore, batch)), maxBatches);
}
