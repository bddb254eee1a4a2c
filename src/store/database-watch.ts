import type { DatabaseState, Store } from "./store.js";

/**
 * Whether this replica reaches its database, from a ping every interval:
 * what health and readiness report, and what lets VerifyAccessToken answer
 * from its cache at once instead of waiting on a database that is gone.
 */
export class DatabaseWatch {
  private state: DatabaseState = "writable";
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<DatabaseState> | undefined;
  private readonly listeners = new Set<(state: DatabaseState, changed: boolean) => void>();

  constructor(
    private readonly store: Store,
    private readonly intervalMs: number,
  ) {}

  /** Called after every ping; `changed` when the state changed. */
  onChecked(listener: (state: DatabaseState, changed: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Answers queries (verification can read it). */
  get reachable(): boolean {
    return this.state !== "down";
  }

  /** Takes writes: what every RPC but verification needs. */
  get writable(): boolean {
    return this.state === "writable";
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Pings now (one ping at a time). The probe shares the pool with the
   * calls, so a busy pool must not read as an outage: only a ping unanswered
   * for several intervals (at least 5 s, the pool's own connection timeout)
   * counts as down.
   */
  check(): Promise<DatabaseState> {
    this.checking ??= this.ping().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async ping(): Promise<DatabaseState> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DatabaseState>((resolve) => {
      timer = setTimeout(() => resolve("down"), Math.max(3 * this.intervalMs, 5_000));
    });
    const state = await Promise.race([this.store.probe(), timeout]);
    clearTimeout(timer);
    const changed = state !== this.state;
    this.state = state;
    for (const listener of this.listeners) listener(state, changed);
    return state;
  }
}
