/**
 * What this replica can do right now, as gRPC health and /readyz report it.
 * Losing the database stops what writes or reads it (SessionService,
 * TokenService's refresh and revocation), not verification from the cache or
 * the JWKS; and it never touches liveness, so a database blip does not make
 * an orchestrator restart every replica.
 */
export const SERVICE_NAMES = ["sessionauthority.v1.SessionService", "sessionauthority.v1.TokenService", "sessionauthority.v1.AuditService"] as const;

/** The health name of VerifyAccessToken (and the JWKS), which outlive a database outage for a while. */
export const VERIFICATION_HEALTH_NAME = "sessionauthority.v1.TokenService/VerifyAccessToken";

/** Envoy's ext_authz Check answers whenever VerifyAccessToken does: its cluster's gRPC health check asks for this name. */
export const EXT_AUTHZ_HEALTH_NAME = "envoy.service.auth.v3.Authorization";

export const HEALTH_NAMES = ["", ...SERVICE_NAMES, VERIFICATION_HEALTH_NAME, EXT_AUTHZ_HEALTH_NAME] as const;

export type ServingStatus = "SERVING" | "NOT_SERVING";

export interface Availability {
  /** Started and not shutting down. */
  readonly serving: boolean;
  /** Answers queries. */
  readonly databaseReachable: boolean;
  /** Reachable and taking writes. */
  readonly databaseWritable: boolean;
  /** VerifyAccessToken can answer: from a current (or recently current) cache, or from the database. */
  readonly verificationUsable: boolean;
}

export function healthStatuses(availability: Availability): ReadonlyMap<string, ServingStatus> {
  const status = (up: boolean): ServingStatus => (availability.serving && up ? "SERVING" : "NOT_SERVING");
  return new Map([
    // The server as a whole: what probes of "" see; never the database's state.
    ["", status(true)],
    ["sessionauthority.v1.SessionService", status(availability.databaseWritable)],
    ["sessionauthority.v1.TokenService", status(availability.databaseWritable)],
    // Reading the audit log needs the database, not writes.
    ["sessionauthority.v1.AuditService", status(availability.databaseReachable)],
    [VERIFICATION_HEALTH_NAME, status(availability.verificationUsable)],
    [EXT_AUTHZ_HEALTH_NAME, status(availability.verificationUsable)],
  ]);
}
