import type { JWK } from "jose";
import { generateSigningKey, importSigningKey, type SigningAlgorithm, type SigningKey } from "../crypto/signing-key.js";
import type { Store } from "../store/store.js";

export interface KeyRing {
  /** The key that signs new access tokens. */
  readonly signer: SigningKey;
  /** Public keys verifiers must accept (the JWKS). */
  readonly publicKeys: readonly JWK[];
}

/**
 * Loads the active signing key, generating it on first start. Replicas that
 * start together queue on an advisory lock, so exactly one generates it.
 */
export async function loadKeyRing(store: Store, algorithm: SigningAlgorithm): Promise<KeyRing> {
  const active = await store.transaction(async ({ signingKeys }) => {
    await signingKeys.lockKeyGeneration();
    const existing = await signingKeys.findActive();
    if (existing !== null) return existing;
    const generated = await generateSigningKey(algorithm);
    const stored = { kid: generated.kid, algorithm, publicJwk: generated.publicJwk, privateJwk: generated.privateJwk };
    await signingKeys.insertActive(stored);
    return stored;
  });
  const published = await store.read(({ signingKeys }) => signingKeys.findPublished());
  return {
    signer: await importSigningKey(active.kid, active.algorithm as SigningAlgorithm, active.privateJwk as JWK),
    publicKeys: published.map((key) => key.publicJwk as JWK),
  };
}
