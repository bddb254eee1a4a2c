import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { factOf, RevocationState, type RevocationVerdict, type TokenFacts } from "../../clients/ts/src/revocation-state.js";
import type { FeedCursor } from "../store/event-repository.js";
import type { NewRevocationEvent } from "../store/records.js";
import type { Store } from "../store/store.js";
import type { Clock } from "./context.js";
import type { FeedSignal } from "./revocation-feed.js";
import { readRevocationSnapshot } from "./revocation-snapshot.js";

const PAGE = 1_000;
const HELD_BACK_RETRY_MS = 25;
const PRUNE_EVERY_MS = 60_000;

/**
 * VerifyAccessToken's answer without the database: what revoked tokens
 * recently, loaded from a snapshot and kept current from the feed, woken by
 * LISTEN/NOTIFY. It is trusted only while the LISTEN connection is up and
 * everything up to its last wake-up has been read; otherwise verification
 * reads the database, until a catch-up from the last cursor completes.
 */
export class VerificationCache {
  private readonly state: RevocationState;
  private cursor: FeedCursor | undefined;
  private caughtUp = false;
  /** The last moment the cache was known current; how stale it may be once it is not. */
  private lastCurrentAt: number | undefined;
  private reading = false;
  private readAgain = false;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly lookups: Counter<"result">;
  private readonly lag: Histogram;

  constructor(
    private readonly store: Store,
    private readonly signal: FeedSignal,
    private readonly clock: Clock,
    private readonly windowMs: number,
    private readonly onError: (error: unknown) => void,
    registry: Registry,
  ) {
    this.state = new RevocationState(windowMs);
    this.lookups = new Counter({
      name: "session_authority_verification_cache_lookups_total",
      help: "VerifyAccessToken revocation checks: answered from the cache (hit), sent to the database because the cache was not current (miss), or answered from a recently current cache while the database was out of reach (stale)",
      labelNames: ["result"],
      registers: [registry],
    });
    const cache = this;
    new Gauge({
      name: "session_authority_verification_cache_current",
      help: "1 while the cache is listening and caught up, so verification needs no database",
      registers: [registry],
      collect() {
        this.set(cache.current ? 1 : 0);
      },
    });
    new Gauge({
      name: "session_authority_verification_cache_hit_ratio",
      help: "Share of VerifyAccessToken revocation checks answered from the cache since start (hits / all lookups); 1 before the first",
      registers: [registry],
      // Derived from the lookups counter, so the ratio and the counts cannot disagree.
      async collect() {
        const { values } = await cache.lookups.get();
        const all = values.reduce((sum, sample) => sum + sample.value, 0);
        const hits = values.find((sample) => sample.labels.result === "hit")?.value ?? 0;
        this.set(all === 0 ? 1 : hits / all);
      },
    });
    this.lag = new Histogram({
      name: "session_authority_revocation_event_lag_seconds",
      help: "From a revocation event's commit (database time) to this replica's verification cache applying it from the feed: how long a revoked token may still verify here",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  async start(): Promise<void> {
    const snapshot = await readRevocationSnapshot(this.store, this.clock, this.windowMs, undefined);
    this.state.applySnapshot(
      {
        globalVersion: snapshot.globalVersion,
        userVersions: snapshot.userVersions.map((user) => ({ userId: user.userId, version: user.tokenVersion })),
        revokedSessionIds: snapshot.revokedSessions.map((session) => session.sessionId),
        revokedKeyIds: snapshot.revokedKids,
      },
      this.clock.now().getTime(),
    );
    this.cursor = snapshot.cursor;
    this.unsubscribe.push(
      this.signal.on("wake", () => this.catchUp()),
      this.signal.on("lost", () => this.noLongerCurrent()),
    );
    this.pruneTimer = setInterval(() => this.state.prune(this.clock.now().getTime()), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    this.catchUp();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pruneTimer);
    for (const unsubscribe of this.unsubscribe) unsubscribe();
  }

  /** Trustworthy right now: listening, and read up to the last wake-up. */
  get current(): boolean {
    return this.caughtUp && this.signal.listening;
  }

  /** This replica's own commits count at once, before the feed brings them back. */
  applyCommitted(events: readonly NewRevocationEvent[]): void {
    const now = this.clock.now().getTime();
    for (const event of events) this.state.apply(factOf(event), now);
  }

  /** "unknown" when the cache cannot be trusted: ask the database. */
  check(token: TokenFacts): RevocationVerdict | "unknown" {
    const current = this.current;
    this.lookups.inc({ result: current ? "hit" : "miss" });
    if (!current) return "unknown";
    this.lastCurrentAt = this.clock.now().getTime();
    return this.state.check(token);
  }

  /**
   * Whether the cache stopped being current at most `limitMs` ago. While the
   * database is out of reach nobody can revoke through it, so the last view
   * is the truth for everyone who shares that database; the limit bounds how
   * long a replica cut off alone (a partition) may miss others' revocations.
   */
  usableStale(limitMs: number): boolean {
    if (this.current) return true;
    return this.lastCurrentAt !== undefined && this.clock.now().getTime() - this.lastCurrentAt <= limitMs;
  }

  /** The cache's answer regardless of currency; only after usableStale said so. */
  checkStale(token: TokenFacts): RevocationVerdict {
    this.lookups.inc({ result: "stale" });
    return this.state.check(token);
  }

  private noLongerCurrent(): void {
    if (this.caughtUp) this.lastCurrentAt = this.clock.now().getTime();
    this.caughtUp = false;
  }

  private catchUp(): void {
    if (this.stopped || this.cursor === undefined) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void this.readAll().finally(() => {
      this.reading = false;
      if (this.readAgain) {
        this.readAgain = false;
        this.catchUp();
      }
    });
  }

  private async readAll(): Promise<void> {
    // Only a pass that began while listening proves nothing was missed.
    const listeningAtStart = this.signal.listening;
    try {
      for (;;) {
        const page = await this.store.read(({ events }) => events.readAfter(this.cursor ?? { txid: 0n, id: 0n }, PAGE));
        const now = this.clock.now().getTime();
        for (const event of [...page.events, ...page.pending]) this.state.apply(factOf(event), now);
        // Events in order only: a pending one comes back in a later page. Clamped: the database's clock and ours may differ a little.
        for (const event of page.events) this.lag.observe(Math.max(0, now - event.occurredAt.getTime()) / 1000);
        this.cursor = page.cursor;
        if (page.heldBack) setTimeout(() => this.catchUp(), HELD_BACK_RETRY_MS).unref();
        if (!page.full) break;
      }
      if (listeningAtStart && this.signal.listening) {
        this.caughtUp = true;
        this.lastCurrentAt = this.clock.now().getTime();
      }
    } catch (error) {
      this.noLongerCurrent();
      this.onError(error);
    }
  }
}
