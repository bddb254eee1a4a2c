import type { randomBytes } from "node:crypto";

/** Time comes from here, so tests of expiry and coalescing need not sleep. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Who is calling, as established by the transport (API key, later mTLS). */
export interface Caller {
  readonly id: string;
}

export type Random = typeof randomBytes;
