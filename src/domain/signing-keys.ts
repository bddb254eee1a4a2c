import type { JWK } from "jose";
import type { KeyEncryption } from "../crypto/key-encryption.js";
import { generateSigningKey, importSigningKey, type SigningAlgorithm, type SigningKey } from "../crypto/signing-key.js";
import type { Repositories, Store } from "../store/store.js";
import type { StoredSigningKey } from "../store/signing-key-repository.js";
import type { Clock } from "./context.js";
import { DomainError } from "./errors.js";

/**
 * A key's stage follows from its times, so every replica derives the same
 * answer from the same rows and no job has to move keys along:
 * published (in the JWKS, not signing yet) → signing → retiring (in the JWKS,
 * no longer signing, tokens it signed may still be live) → retired (gone).
 * Revoked keys leave the JWKS at once.
 */
export type KeyStage = "published" | "signing" | "retiring" | "retired" | "revoked";

export interface KeySettings {
  readonly signingAlgorithm: SigningAlgorithm;
  readonly jwksMaxAgeMs: number;
  readonly refreshIntervalMs: number;
  readonly accessTtlMaxMs: number;
  readonly accessTokenLeewayMs: number;
}

const usable = (key: StoredSigningKey, now: Date) => key.revokedAt === null && (key.retiresAt === null || key.retiresAt > now);

/** The key that signs at `now`: the most recently activated one that is not revoked. */
export function signerAt(keys: readonly StoredSigningKey[], now: Date): StoredSigningKey | undefined {
  return keys
    .filter((key) => key.revokedAt === null && key.activatesAt <= now)
    .reduce<StoredSigningKey | undefined>((latest, key) => (latest === undefined || key.activatesAt > latest.activatesAt ? key : latest), undefined);
}

export function stageOf(key: StoredSigningKey, keys: readonly StoredSigningKey[], now: Date): KeyStage {
  if (key.revokedAt !== null) return "revoked";
  if (key.retiresAt !== null && key.retiresAt <= now) return "retired";
  if (key.activatesAt > now) return "published";
  return signerAt(keys, now)?.kid === key.kid ? "signing" : "retiring";
}

/** The associated data binding a wrapped private key to its row. */
const signingKeyAad = (kid: string) => kid;

/** A stored key's private JWK as JSON bytes: unwrapped, or the plaintext an older version left. */
function privateKeyBytes(encryption: KeyEncryption, key: StoredSigningKey): Buffer {
  return key.kekId !== null && key.wrappedPrivateKey !== null
    ? encryption.unwrap({ kekId: key.kekId, ciphertext: Buffer.from(key.wrappedPrivateKey) }, signingKeyAad(key.kid))
    : Buffer.from(JSON.stringify(key.privateJwk), "utf8");
}

/** Stores a key's private part wrapped under the current KEK (from plaintext or from an older KEK). */
export async function rewrapSigningKey(repos: Repositories, encryption: KeyEncryption, key: StoredSigningKey): Promise<void> {
  const wrapped = encryption.wrap(privateKeyBytes(encryption, key), signingKeyAad(key.kid));
  await repos.signingKeys.storeWrapped(key.kid, wrapped.ciphertext, wrapped.kekId);
}

/** A new key, its private part wrapped under the current KEK. */
export async function newWrappedKey(encryption: KeyEncryption, algorithm: SigningAlgorithm, createdAt: Date, activatesAt: Date) {
  const generated = await generateSigningKey(algorithm);
  const wrapped = encryption.wrap(Buffer.from(JSON.stringify(generated.privateJwk), "utf8"), signingKeyAad(generated.kid));
  return {
    kid: generated.kid,
    algorithm,
    publicJwk: generated.publicJwk,
    wrappedPrivateKey: wrapped.ciphertext,
    kekId: wrapped.kekId,
    createdAt,
    activatesAt,
  };
}

/**
 * Run at start under the key-table lock, so replicas starting together
 * agree: wraps keys left in plaintext by an older version, and makes sure a
 * key signs now (generating the first one, or promoting a staged key if the
 * signer was revoked while no replica ran).
 */
export async function prepareSigningKeys(store: Store, encryption: KeyEncryption, clock: Clock, algorithm: SigningAlgorithm): Promise<void> {
  await store.transaction(async (repos) => {
    await repos.signingKeys.lock();
    const keys = await repos.signingKeys.findAll();
    for (const key of keys) if (key.kekId === null) await rewrapSigningKey(repos, encryption, key);
    await ensureSigner(repos, keys, encryption, clock.now(), algorithm);
  });
}

/** Makes sure some key signs at `now`; returns the kid that does. Call under the key-table lock. */
export async function ensureSigner(
  repos: Repositories,
  keys: readonly StoredSigningKey[],
  encryption: KeyEncryption,
  now: Date,
  algorithm: SigningAlgorithm,
): Promise<string> {
  const signer = signerAt(keys, now);
  if (signer !== undefined) return signer.kid;
  // A staged key has been in the JWKS for a while: verifiers may know it already.
  const staged = keys.filter((key) => key.revokedAt === null && key.activatesAt > now).at(-1);
  if (staged !== undefined) {
    await repos.signingKeys.setActivatesAt(staged.kid, now);
    return staged.kid;
  }
  const fresh = await newWrappedKey(encryption, algorithm, now, now);
  await repos.signingKeys.insert(fresh);
  return fresh.kid;
}

/**
 * This replica's view of the key table: which key signs, which public keys
 * are published. Re-read on an interval (so a rotation staged anywhere is
 * picked up long before it activates), after this replica changes the keys,
 * and when a token names a kid it has not seen.
 */
export class KeyRing {
  private keys: readonly StoredSigningKey[] = [];
  private readonly privateKeys = new Map<string, SigningKey>();
  private readonly publicJwks = new Map<string, JWK>();
  private lastMissRefresh = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly encryption: KeyEncryption,
    private readonly clock: Clock,
  ) {}

  async refresh(): Promise<void> {
    const keys = await this.store.read(({ signingKeys }) => signingKeys.findAll());
    const now = this.clock.now();
    for (const key of keys) {
      if (!usable(key, now) || this.privateKeys.has(key.kid)) continue;
      this.privateKeys.set(key.kid, await this.importPrivate(key));
      this.publicJwks.set(key.kid, key.publicJwk as JWK);
    }
    this.keys = keys;
  }

  /** Re-reads on an interval until stopped; failures keep the last view (logged by the caller). */
  startRefreshing(intervalMs: number, onError: (error: unknown) => void): void {
    this.timer = setInterval(() => this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stopRefreshing(): void {
    clearInterval(this.timer);
  }

  signer(): SigningKey {
    const signer = signerAt(this.keys, this.clock.now());
    const key = signer === undefined ? undefined : this.privateKeys.get(signer.kid);
    if (key === undefined) throw new DomainError("SIGNING_KEY_UNAVAILABLE", "no signing key is available on this replica yet; retry");
    return key;
  }

  publicKeys(): JWK[] {
    const now = this.clock.now();
    return this.keys.filter((key) => usable(key, now)).flatMap((key) => this.publicJwks.get(key.kid) ?? []);
  }

  /** The public key for `kid` if it is published; "revoked" if an operator revoked it. */
  async verificationKey(kid: string): Promise<JWK | "revoked" | undefined> {
    let found = this.lookup(kid);
    // A kid we have not seen may be a key another replica just published.
    // Wall time, not the service clock: this only bounds database load.
    if (found === undefined && performance.now() - this.lastMissRefresh > 1000) {
      this.lastMissRefresh = performance.now();
      await this.refresh();
      found = this.lookup(kid);
    }
    return found;
  }

  private lookup(kid: string): JWK | "revoked" | undefined {
    const key = this.keys.find((candidate) => candidate.kid === kid);
    if (key === undefined) return undefined;
    if (key.revokedAt !== null) return "revoked";
    return usable(key, this.clock.now()) ? this.publicJwks.get(kid) : undefined;
  }

  private async importPrivate(key: StoredSigningKey): Promise<SigningKey> {
    const privateJwk = JSON.parse(privateKeyBytes(this.encryption, key).toString("utf8")) as JWK;
    return importSigningKey(key.kid, key.algorithm as SigningAlgorithm, privateJwk);
  }
}
