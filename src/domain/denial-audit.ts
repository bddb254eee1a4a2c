import { Counter, type Registry } from "prom-client";
import type { NewAuditEvent } from "../store/audit-repository.js";
import type { Store } from "../store/store.js";

export interface Denial {
  /** The identified caller, or "unauthenticated". */
  readonly actor: string;
  readonly reason: string;
  readonly method: string;
  readonly peer: string;
}

// Enough distinct denials for any honest burst; beyond it a flood (which
// could otherwise turn refused calls into unbounded database writes) is
// counted in a metric instead of stored.
const MAX_PENDING = 1_000;

/**
 * Refused calls, written to the audit log in batches: identical denials
 * (same caller, reason, method and address) within one flush become one row
 * with a count, so a client hammering with a bad key costs one insert per
 * interval, not one per call.
 */
export class DenialAudit {
  private pending = new Map<string, NewAuditEvent & { count: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly dropped: Counter;

  constructor(
    private readonly store: Store,
    private readonly flushIntervalMs: number,
    private readonly onError: (error: unknown) => void,
    registry: Registry,
  ) {
    this.dropped = new Counter({
      name: "session_authority_audit_denials_dropped_total",
      help: "Refused calls not written to the audit log: too many distinct ones pending, or the database unavailable at every flush attempt",
      registers: [registry],
    });
  }

  record(denial: Denial): void {
    const key = JSON.stringify([denial.actor, denial.reason, denial.method, denial.peer]);
    const existing = this.pending.get(key);
    if (existing !== undefined) {
      existing.count += 1;
      return;
    }
    if (this.pending.size >= MAX_PENDING) {
      this.dropped.inc();
      return;
    }
    this.pending.set(key, { actor: denial.actor, action: "call_denied", reason: denial.reason, method: denial.method, peer: denial.peer, count: 1 });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes what is pending; what fails to write waits for the next flush, within the bound. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.read(({ audit }) => audit.record([...batch.values()]));
    } catch (error) {
      this.onError(error);
      for (const [key, row] of batch) {
        if (this.pending.size >= MAX_PENDING) this.dropped.inc(row.count);
        else if (!this.pending.has(key)) this.pending.set(key, row);
        else (this.pending.get(key) as { count: number }).count += row.count;
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
