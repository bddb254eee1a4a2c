import type { randomBytes } from "node:crypto";

/** Time comes from here, so tests of expiry and coalescing need not sleep. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Who is calling, as established by the transport (API key, mTLS, mesh identity). */
export interface Caller {
  readonly id: string;
  /**
   * May reach sessions another caller created (see org-scope.ts
   * sessionInReach): granted per RPC by the policy capability
   * "<method>:any_caller", or an operator at the CLI. Never a way to
   * another caller's tokens.
   */
  readonly anyCaller?: boolean;
}

export type Random = typeof randomBytes;
