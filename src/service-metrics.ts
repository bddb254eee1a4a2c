import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock } from "./domain/context.js";
import { ROTATION_OUTCOMES, type DomainObserver, type RotationOutcome } from "./domain/observer.js";
import type { Database } from "./store/database.js";
import type { Store } from "./store/store.js";

// Event kinds that end tokens: a session, a user's or every session, a key.
const REVOCATION_KINDS = new Set(["session_revoked", "user_version", "global_version", "signing_key_revoked", "token_reuse", "user_data_deleted"]);
// Counting live sessions scans the sessions table: a scrape every few seconds
// from several Prometheus servers must not become a load of its own.
const ACTIVE_SESSIONS_MAX_AGE_MS = 15_000;

/**
 * The service's own metrics beside the per-RPC ones (interceptors) and the
 * verification cache's: rotations by outcome, revocations, live sessions and
 * the database pool. Also the domain's observer.
 */
export class ServiceMetrics implements DomainObserver {
  private readonly rotations: Counter<"outcome">;

  constructor(registry: Registry, store: Store, database: Database, clock: Clock, onError: (error: unknown) => void) {
    this.rotations = new Counter({
      name: "session_authority_refresh_rotations_total",
      help: "RefreshTokens calls by outcome: rotated, grace_replay, reuse_detected (the family was revoked), expired, stale_version, revoked, unknown_token, concurrent_refresh, invalid, refused, error",
      labelNames: ["outcome"],
      registers: [registry],
    });
    // Every outcome from the start, so a rate() over a rare one is 0 rather than absent.
    for (const outcome of ROTATION_OUTCOMES) this.rotations.inc({ outcome }, 0);
    const revocations = new Counter({
      name: "session_authority_revocations_total",
      help: "Revocations committed by this replica, by event kind: session_revoked, user_version (a user's tokens), global_version (every token), signing_key_revoked, token_reuse (a family revoked on reuse), user_data_deleted",
      labelNames: ["kind"],
      registers: [registry],
    });
    store.onEventsCommitted((events) => {
      for (const event of events) if (REVOCATION_KINDS.has(event.kind)) revocations.inc({ kind: event.kind });
    });

    let counted: { active: number; at: number } | undefined;
    // Scrapes at the same moment share one count.
    let counting: Promise<void> | undefined;
    new Gauge({
      name: "session_authority_active_sessions",
      help: `Sessions live now (not revoked, expired or killed by a version bump), across all replicas; counted at most every ${ACTIVE_SESSIONS_MAX_AGE_MS / 1000} s`,
      registers: [registry],
      async collect() {
        const now = clock.now();
        if (counted === undefined || now.getTime() - counted.at >= ACTIVE_SESSIONS_MAX_AGE_MS) {
          counting ??= store
            .read(({ sessions }) => sessions.countActive(now))
            .then(
              (active) => {
                counted = { active, at: now.getTime() };
              },
              // A scrape while the database is away keeps the last count rather than failing /metrics.
              onError,
            )
            .finally(() => {
              counting = undefined;
            });
          await counting;
        }
        if (counted !== undefined) this.set(counted.active);
      },
    });

    if (database.poolUse() === undefined) return;
    const pool = new Gauge({
      name: "session_authority_db_pool_connections",
      help: "PostgreSQL connection pool of this replica: max (DB_POOL_SIZE), open, idle, and waiting (callers queued for a connection)",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        const use = database.poolUse();
        if (use === undefined) return;
        pool.set({ state: "max" }, use.max);
        pool.set({ state: "open" }, use.open);
        pool.set({ state: "idle" }, use.idle);
        pool.set({ state: "waiting" }, use.waiting);
      },
    });
  }

  rotation(outcome: RotationOutcome): void {
    this.rotations.inc({ outcome });
  }
}
