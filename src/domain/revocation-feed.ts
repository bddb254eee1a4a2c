import { EventEmitter } from "node:events";
import type { Database } from "../store/database.js";

export const REVOCATION_CHANNEL = "revocation_events";
// The LISTEN connection wakes readers within milliseconds; this catches what
// a notification cannot: events held back behind a long transaction.
const SAFETY_POLL_MS = 1_000;

/**
 * Tells this replica's readers (the verification cache, WatchRevocations
 * streams) when the feed may have grown: on every NOTIFY from the database
 * (any replica's commit, this one's included), and once a second.
 * Knows whether the LISTEN connection is up, which is what makes a cache
 * trustworthy.
 */
export class FeedSignal {
  private readonly emitter = new EventEmitter();
  private stopListening: (() => Promise<void>) | undefined;
  private poll: NodeJS.Timeout | undefined;
  private up = false;

  constructor() {
    // Every open stream waits on this emitter.
    this.emitter.setMaxListeners(0);
  }

  start(database: Database, retryDelayMs: number, onLost: (error: unknown) => void): void {
    this.stopListening = database.listen(
      REVOCATION_CHANNEL,
      {
        onNotify: () => this.wake(),
        onConnected: () => {
          this.up = true;
          this.emitter.emit("connected");
          this.wake();
        },
        onLost: (error) => {
          const wasUp = this.up;
          this.up = false;
          this.emitter.emit("lost");
          if (wasUp) onLost(error);
        },
      },
      retryDelayMs,
    );
    this.poll = setInterval(() => this.wake(), SAFETY_POLL_MS);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.poll);
    this.up = false;
    await this.stopListening?.();
  }

  get listening(): boolean {
    return this.up;
  }

  private wake(): void {
    this.emitter.emit("wake");
  }

  on(event: "wake" | "connected" | "lost", listener: () => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  /** Resolves at the next wake-up, after `timeoutMs`, or when `signal` aborts. */
  next(timeoutMs: number, signal: AbortSignal): Promise<"wake" | "timeout" | "aborted"> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve("aborted");
      const done = (outcome: "wake" | "timeout" | "aborted") => {
        clearTimeout(timer);
        this.emitter.off("wake", onWake);
        signal.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      const onWake = () => done("wake");
      const onAbort = () => done("aborted");
      const timer = setTimeout(() => done("timeout"), timeoutMs);
      this.emitter.once("wake", onWake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
