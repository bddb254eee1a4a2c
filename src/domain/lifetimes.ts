import { invalidArgument } from "./errors.js";

export interface LifetimeSettings {
  readonly accessTtlMs: number;
  readonly accessTtlMaxMs: number;
  readonly refreshTtlMs: number;
  readonly refreshTtlMaxMs: number;
  readonly sessionTtlMs: number;
  readonly sessionTtlMaxMs: number;
}

/** A caller may ask for a lifetime; the server's maximum always wins. */
export function lifetime(field: string, requestedMs: number | undefined, defaultMs: number, maxMs: number): number {
  if (requestedMs === undefined) return Math.min(defaultMs, maxMs);
  if (!(requestedMs > 0)) throw invalidArgument(field, "must be positive");
  return Math.min(requestedMs, maxMs);
}

export interface RequestedLifetimes {
  readonly accessTtlMs?: number | undefined;
  readonly refreshTtlMs?: number | undefined;
  readonly sessionTtlMs?: number | undefined;
}

export function resolveLifetimes(settings: LifetimeSettings, requested: RequestedLifetimes) {
  const sessionMs = lifetime("session_ttl", requested.sessionTtlMs, settings.sessionTtlMs, settings.sessionTtlMaxMs);
  return {
    accessMs: lifetime("access_token_ttl", requested.accessTtlMs, settings.accessTtlMs, settings.accessTtlMaxMs),
    refreshMs: lifetime("refresh_token_ttl", requested.refreshTtlMs, settings.refreshTtlMs, settings.refreshTtlMaxMs),
    sessionMs,
  };
}
