import type { VerifiedTokens } from "../../clients/ts/src/verified-tokens.js";
import type { OrgScopes } from "../config.js";
import type { KeyEncryption } from "../crypto/key-encryption.js";
import type { DatabaseWatch } from "../store/database-watch.js";
import type { Store } from "../store/store.js";
import type { Clock } from "./context.js";
import type { LifetimeSettings } from "./lifetimes.js";
import type { DenialAudit } from "./denial-audit.js";
import type { FeedSignal } from "./revocation-feed.js";
import type { DomainObserver } from "./observer.js";
import type { KeyRing, KeySettings } from "./signing-keys.js";
import type { VerificationCache } from "./verification-cache.js";
import type { TokenIssuer } from "./token-issuer.js";

export interface SessionSettings extends LifetimeSettings {
  /** 0 means no limit. */
  readonly maxActivePerUser: number;
  /** 0 means reports are only counted, never acted on. */
  readonly suspiciousActivityThreshold: number;
  readonly touchCoalesceMs: number;
  readonly clientInfoRetentionMs: number;
  /** How long a revoked, expired or version-killed session and its tokens are kept, so replays are recognised. */
  readonly endedSessionRetentionMs: number;
  /** How long after a rotation the same caller may present the parent again; 0 disables. */
  readonly graceWindowMs: number;
  readonly graceMaxReplays: number;
  /** How soon after a rotation the same caller and client still count as the same burst of parallel requests. */
  readonly burstWindowMs: number;
  /** Clock skew allowed when checking an access token's `exp` and `iat` (at most 60 s). */
  readonly accessTokenLeewayMs: number;
}

export interface Dependencies {
  readonly store: Store;
  readonly clock: Clock;
  readonly tokens: TokenIssuer;
  readonly settings: SessionSettings;
  /** HMAC key deriving successor refresh tokens; shared by every replica. */
  readonly graceKey: Buffer;
  readonly keyRing: KeyRing;
  readonly keySettings: KeySettings;
  readonly encryption: KeyEncryption;
  /** Wakes feed readers when events may have committed (LISTEN/NOTIFY). */
  readonly feed: FeedSignal;
  readonly verificationCache: VerificationCache;
  /** Signatures already checked, by token; see VerifiedTokens. */
  readonly verifiedTokens: VerifiedTokens;
  readonly databaseWatch: DatabaseWatch;
  /** Refused calls on their way to the audit log. */
  readonly denialAudit: DenialAudit;
  /** How long audit entries are kept. */
  readonly auditRetentionMs: number;
  /** How long after the cache stopped being current it may still answer while the database is out of reach; 0: never. */
  readonly verifyStaleLimitMs: number;
  readonly orgScopes: OrgScopes;
  readonly heartbeatIntervalMs: number;
  readonly eventRetentionMs: number;
  /** Told what happened, for metrics; absent in the CLI. */
  readonly observer?: DomainObserver;
}
