import type { KeyEncryption } from "../crypto/key-encryption.js";
import type { StoredSigningKey } from "../store/signing-key-repository.js";
import type { Store } from "../store/store.js";
import type { Caller, Clock } from "./context.js";
import { DomainError, invalidArgument } from "./errors.js";
import { rewrapServiceSecret } from "./service-secrets.js";
import { ensureSigner, newWrappedKey, rewrapSigningKey, stageOf, type KeyRing, type KeySettings, type KeyStage } from "./signing-keys.js";
import { reason } from "./validation.js";

// Operator actions on signing keys: staged rotation, emergency revocation,
// listing, and re-wrapping under a new KEK. All run under the key-table lock.

export interface KeyLifecycleDependencies {
  readonly store: Store;
  readonly clock: Clock;
  readonly encryption: KeyEncryption;
  readonly keySettings: KeySettings;
  /** This replica's view, refreshed after each change; absent in the CLI. */
  readonly keyRing?: KeyRing;
}

export interface SigningKeyView {
  readonly kid: string;
  readonly algorithm: string;
  readonly stage: KeyStage;
  readonly publishedAt: Date;
  readonly activatesAt: Date;
  readonly retiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokeReason: string | null;
  readonly kekId: string | null;
}

function views(keys: readonly StoredSigningKey[], now: Date): SigningKeyView[] {
  return keys.map((key) => ({
    kid: key.kid,
    algorithm: key.algorithm,
    stage: stageOf(key, keys, now),
    publishedAt: key.createdAt,
    activatesAt: key.activatesAt,
    retiresAt: key.retiresAt,
    revokedAt: key.revokedAt,
    revokeReason: key.revokeReason,
    kekId: key.kekId,
  }));
}

export async function listSigningKeys(deps: KeyLifecycleDependencies): Promise<SigningKeyView[]> {
  const keys = await deps.store.read(({ signingKeys }) => signingKeys.findAll());
  return views(keys, deps.clock.now());
}

/**
 * The publish → sign → retire timeline. A verifier caches the JWKS for up to
 * its max-age and each replica re-reads the key table every refresh interval,
 * so the new key signs only once both have passed; the old key then stays
 * published until every token it signed has expired (longest access-token
 * lifetime plus leeway), with one more refresh interval for replicas that
 * switch late.
 */
export function rotationTimeline(settings: KeySettings, now: Date): { activatesAt: Date; previousRetiresAt: Date } {
  const activatesAt = new Date(now.getTime() + settings.jwksMaxAgeMs + settings.refreshIntervalMs);
  const previousRetiresAt = new Date(activatesAt.getTime() + settings.refreshIntervalMs + settings.accessTtlMaxMs + settings.accessTokenLeewayMs);
  return { activatesAt, previousRetiresAt };
}

/** Publishes the next key now; it signs from `activates_at`. One rotation may be staged at a time. */
export async function rotateSigningKey(deps: KeyLifecycleDependencies, caller: Caller, input: { reason: string }): Promise<SigningKeyView[]> {
  const why = reason("reason", input.reason, "scheduled_rotation");
  const now = deps.clock.now();
  const keys = await deps.store.transaction(async (repos) => {
    await repos.signingKeys.lock();
    const existing = await repos.signingKeys.findAll();
    const staged = existing.find((key) => key.revokedAt === null && key.activatesAt > now);
    if (staged !== undefined) {
      throw new DomainError("KEY_ROTATION_PENDING", `key ${staged.kid} is already staged and signs from ${staged.activatesAt.toISOString()}`, {
        metadata: { kid: staged.kid, activates_at: staged.activatesAt.toISOString() },
      });
    }
    const currentKid = await ensureSigner(repos, existing, deps.encryption, now, deps.keySettings.signingAlgorithm);
    const { activatesAt, previousRetiresAt } = rotationTimeline(deps.keySettings, now);
    const next = await newWrappedKey(deps.encryption, deps.keySettings.signingAlgorithm, now, activatesAt);
    await repos.signingKeys.insert(next);
    await repos.signingKeys.setRetiresAt(currentKid, previousRetiresAt);
    await repos.events.record([
      { kind: "signing_key_published", sessionId: null, userId: null, orgId: null, keyId: next.kid, reason: why, caller: caller.id },
    ]);
    return repos.signingKeys.findAll();
  });
  await deps.keyRing?.refresh();
  return views(keys, now);
}

export interface RevokedSigningKey {
  readonly keys: SigningKeyView[];
  readonly signerKid: string;
  /** Set when the caller also asked for every token to be revoked. */
  readonly globalVersion: bigint | undefined;
}

/**
 * Emergency: the key leaves the JWKS and every token it signed is refused at
 * once. If it was signing, a staged key takes over (verifiers may know it
 * already), else a new one: verifiers fetch it on the unknown kid. Revoking
 * again is a no-op, so a retried call is safe.
 */
export async function revokeSigningKey(
  deps: KeyLifecycleDependencies,
  caller: Caller,
  input: { kid: string; reason: string; bumpGlobalVersion: boolean },
): Promise<RevokedSigningKey> {
  if (input.kid.length === 0) throw invalidArgument("kid", "is required");
  if (input.kid.length > 128) throw invalidArgument("kid", "is longer than any key id");
  const why = reason("reason", input.reason, "key_compromised");
  const now = deps.clock.now();
  const result = await deps.store.transaction(async (repos) => {
    await repos.signingKeys.lock();
    const existing = await repos.signingKeys.findAll();
    const target = existing.find((key) => key.kid === input.kid);
    if (target === undefined) throw new DomainError("SIGNING_KEY_NOT_FOUND", "no signing key has this kid", { metadata: { kid: input.kid } });
    const events = [];
    if (target.revokedAt === null) {
      await repos.signingKeys.revoke(target.kid, now, why);
      events.push({ kind: "signing_key_revoked" as const, sessionId: null, userId: null, orgId: null, keyId: target.kid, reason: why, caller: caller.id });
    }
    const remaining = existing.map((key) => (key.kid === target.kid ? { ...key, revokedAt: key.revokedAt ?? now } : key));
    const signerKid = await ensureSigner(repos, remaining, deps.encryption, now, deps.keySettings.signingAlgorithm);
    let globalVersion: bigint | undefined;
    if (input.bumpGlobalVersion) {
      globalVersion = await repos.versions.bumpGlobalVersion(why);
      events.push({ kind: "global_version" as const, sessionId: null, userId: null, orgId: null, version: globalVersion, reason: why, caller: caller.id });
    }
    await repos.events.record(events);
    return { keys: await repos.signingKeys.findAll(), signerKid, globalVersion };
  });
  await deps.keyRing?.refresh();
  return { keys: views(result.keys, now), signerKid: result.signerKid, globalVersion: result.globalVersion };
}

/**
 * Re-encrypts every private key and service secret not yet under the current
 * KEK (after KEK_FILE changed, with the old one in KEK_PREVIOUS_FILES). One
 * transaction: either everything moves to the new KEK or nothing does.
 */
export async function rewrapSecrets(store: Store, encryption: KeyEncryption, caller: Caller): Promise<{ signingKeys: number; secrets: number }> {
  return store.transaction(async (repos) => {
    await repos.signingKeys.lock();
    let signingKeys = 0;
    for (const key of await repos.signingKeys.findAll()) {
      if (key.kekId === encryption.currentKekId) continue;
      await rewrapSigningKey(repos, encryption, key);
      signingKeys += 1;
    }
    let secrets = 0;
    for (const secret of await repos.secrets.findAll()) {
      if (secret.kekId === encryption.currentKekId) continue;
      await rewrapServiceSecret(repos.secrets, encryption, secret);
      secrets += 1;
    }
    if (signingKeys + secrets > 0) {
      await repos.audit.record([
        { actor: caller.id, action: "signing_keys_rewrapped", reason: `kek ${encryption.currentKekId}: ${signingKeys} key(s), ${secrets} secret(s)` },
      ]);
    }
    return { signingKeys, secrets };
  });
}

