/** How a RefreshTokens call ended, as counted on /metrics. */
export const ROTATION_OUTCOMES = [
  "rotated",
  "grace_replay",
  "reuse_detected",
  "expired",
  "stale_version",
  "revoked",
  "unknown_token",
  "concurrent_refresh",
  "invalid",
  "refused",
  "error",
] as const;
export type RotationOutcome = (typeof ROTATION_OUTCOMES)[number];

/**
 * What the domain reports as it works, so metrics need no knowledge of the
 * domain's errors and the domain none of prom-client.
 */
export interface DomainObserver {
  rotation(outcome: RotationOutcome): void;
}
