/**
 * What makes an otherwise valid access token dead, learned from the
 * revocation feed: revoked sessions, user and global version floors, revoked
 * signing keys. The server's verification cache and the embedded verifier both
 * use this one implementation, so they cannot disagree.
 *
 * Entries are forgotten after `memoryMs` (set it to at least the longest
 * access-token lifetime plus leeway): by then every token they could reject
 * has expired on its own.
 */

export interface RevocationFact {
  readonly kind: string;
  readonly sessionId?: string | undefined;
  readonly userId?: string | undefined;
  readonly version?: bigint | undefined;
  readonly keyId?: string | undefined;
}

/** The claims of a signature-checked access token that revocation can touch. */
export interface TokenFacts {
  readonly sessionId: string;
  readonly userId: string;
  readonly tokenVersion: bigint;
  readonly globalVersion: bigint;
  readonly keyId: string;
}

/** A GetRevocationSnapshot, reduced to what revokes tokens. */
export interface RevocationSnapshotFacts {
  readonly globalVersion: bigint;
  readonly userVersions: readonly { readonly userId: string; readonly version: bigint }[];
  readonly revokedSessionIds: readonly string[];
  readonly revokedKeyIds: readonly string[];
}

/** An event as the server stores it or a client receives it, with empty fields as null or "". */
export function factOf(event: {
  readonly kind: string;
  readonly sessionId?: string | null | undefined;
  readonly userId?: string | null | undefined;
  readonly version?: bigint | null | undefined;
  readonly keyId?: string | null | undefined;
}): RevocationFact {
  return {
    kind: event.kind,
    sessionId: event.sessionId || undefined,
    userId: event.userId || undefined,
    version: event.version ?? undefined,
    keyId: event.keyId || undefined,
  };
}

export type RevocationVerdict = "TOKEN_KEY_REVOKED" | "VERSION_STALE" | "TOKEN_REVOKED" | undefined;

export class RevocationState {
  private globalVersion = 0n;
  private readonly userVersions = new Map<string, { version: bigint; learnedAt: number }>();
  private readonly revokedSessions = new Map<string, number>();
  private readonly revokedKeys = new Set<string>();

  constructor(private readonly memoryMs: number) {}

  apply(fact: RevocationFact, nowMs: number): void {
    switch (fact.kind) {
      case "session_revoked":
      case "token_reuse":
        if (fact.sessionId) this.revokedSessions.set(fact.sessionId, nowMs);
        break;
      case "user_version":
      // A deletion bumps the user's version too and names it: tokens below it
      // are dead, even once the erased sessions' own events are forgotten or
      // were never received (a snapshot taken after the rows were gone).
      case "user_data_deleted":
        if (fact.userId && fact.version !== undefined) {
          const known = this.userVersions.get(fact.userId);
          if (known === undefined || fact.version > known.version) this.userVersions.set(fact.userId, { version: fact.version, learnedAt: nowMs });
        }
        break;
      case "global_version":
        if (fact.version !== undefined && fact.version > this.globalVersion) this.globalVersion = fact.version;
        break;
      case "signing_key_revoked":
        if (fact.keyId) this.revokedKeys.add(fact.keyId);
        break;
      default:
      // Other kinds (session_created, grace_replay, signing_key_published) revoke nothing.
    }
  }

  applySnapshot(snapshot: RevocationSnapshotFacts, nowMs: number): void {
    this.apply({ kind: "global_version", version: snapshot.globalVersion }, nowMs);
    for (const user of snapshot.userVersions) this.apply({ kind: "user_version", userId: user.userId, version: user.version }, nowMs);
    for (const sessionId of snapshot.revokedSessionIds) this.apply({ kind: "session_revoked", sessionId }, nowMs);
    for (const keyId of snapshot.revokedKeyIds) this.apply({ kind: "signing_key_revoked", keyId }, nowMs);
  }

  /** Undefined when nothing revoked the token; otherwise the reason, as VerifyAccessToken names it. */
  check(token: TokenFacts): RevocationVerdict {
    if (this.revokedKeys.has(token.keyId)) return "TOKEN_KEY_REVOKED";
    if (token.globalVersion < this.globalVersion) return "VERSION_STALE";
    const user = this.userVersions.get(token.userId);
    if (user !== undefined && token.tokenVersion < user.version) return "VERSION_STALE";
    if (this.revokedSessions.has(token.sessionId)) return "TOKEN_REVOKED";
    return undefined;
  }

  /** Forgets what can no longer matter. Revoked keys and the global floor are kept: they are few. */
  prune(nowMs: number): void {
    const horizon = nowMs - this.memoryMs;
    for (const [sessionId, learnedAt] of this.revokedSessions) if (learnedAt < horizon) this.revokedSessions.delete(sessionId);
    for (const [userId, entry] of this.userVersions) if (entry.learnedAt < horizon) this.userVersions.delete(userId);
  }
}
