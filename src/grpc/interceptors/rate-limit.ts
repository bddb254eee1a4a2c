import * as grpc from "@grpc/grpc-js";
import { errorStatus } from "../status.js";
import { VERIFIED_CALLER_HEADER } from "./caller-auth.js";

export interface RateLimits {
  /** Requests per second each caller may make; 0 turns limiting off. */
  readonly perSecond: number;
  /** How many requests may come at once before the rate applies. */
  readonly burst: number;
  /** Per-caller rates that replace `perSecond` (from the policy file). */
  readonly overrides: ReadonlyMap<string, number>;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per authenticated caller, in this replica's memory: each
 * replica enforces the limit on the calls it receives, so a deployment of N
 * replicas admits up to N × the rate. Probes and reflection are never limited.
 */
export class CallerRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: RateLimits) {}

  /** 0 when the call may go ahead; otherwise how many ms until it could. */
  take(caller: string, now = performance.now()): number {
    const rate = this.limits.overrides.get(caller) ?? this.limits.perSecond;
    if (rate <= 0) return 0;
    const capacity = Math.max(1, this.limits.burst > 0 ? this.limits.burst : rate);
    const bucket = this.buckets.get(caller) ?? { tokens: capacity, updatedAt: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rate);
    bucket.updatedAt = now;
    this.buckets.set(caller, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / rate) * 1000);
  }
}

/** Runs after caller authentication, so the bucket is the verified caller's. */
export function rateLimitInterceptor(limiter: CallerRateLimiter): grpc.ServerInterceptor {
  return (_methodDescriptor, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const caller = String(metadata.get(VERIFIED_CALLER_HEADER)[0] ?? "");
        const waitMs = caller === "" || caller === "public" ? 0 : limiter.take(caller);
        if (waitMs > 0) {
          call.sendStatus(
            errorStatus(grpc.status.RESOURCE_EXHAUSTED, "RATE_LIMITED", `caller "${caller}" is over its request rate; retry in ${waitMs} ms`, { retry_after_ms: String(waitMs) }, waitMs),
          );
          return;
        }
        next(metadata);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
