import type { SessionRecord } from "../store/records.js";
import { DomainError } from "./errors.js";

export type SessionState = "active" | "revoked" | "expired";

export function sessionState(session: SessionRecord, now: Date): SessionState {
  if (session.revokedAt !== null) return "revoked";
  if (session.expiresAt.getTime() <= now.getTime()) return "expired";
  return "active";
}

/** For calls that only make sense on a live session. */
export function assertActive(session: SessionRecord | null, now: Date): SessionRecord {
  if (session === null) throw new DomainError("SESSION_NOT_FOUND", "no session has this id");
  const state = sessionState(session, now);
  if (state === "revoked") throw new DomainError("SESSION_REVOKED", "the session is revoked");
  if (state === "expired") throw new DomainError("SESSION_EXPIRED", "the session has expired");
  return session;
}

export function found(session: SessionRecord | null): SessionRecord {
  if (session === null) throw new DomainError("SESSION_NOT_FOUND", "no session has this id");
  return session;
}
