import type { Store } from "./store.js";

/**
 * Whether this replica reaches its database, from a ping every interval:
 * what health and readiness report, and what lets VerifyAccessToken answer
 * from its cache at once instead of waiting on a database that is gone.
 */
export class DatabaseWatch {
  private up = true;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<boolean> | undefined;
  private readonly listeners = new Set<(reachable: boolean, changed: boolean) => void>();

  constructor(
    private readonly store: Store,
    private readonly intervalMs: number,
  ) {}

  /** Called after every ping; `changed` when reachability flipped. */
  onChecked(listener: (reachable: boolean, changed: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get reachable(): boolean {
    return this.up;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Pings now (one ping at a time); a ping that does not answer within the interval counts as down. */
  check(): Promise<boolean> {
    this.checking ??= this.ping().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(this.intervalMs, 1_000));
    });
    const reachable = await Promise.race([this.store.ping(), timeout]);
    clearTimeout(timer);
    const changed = reachable !== this.up;
    this.up = reachable;
    for (const listener of this.listeners) listener(reachable, changed);
    return reachable;
  }
}
