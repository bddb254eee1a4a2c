import { randomBytes } from "node:crypto";
import type { KeyEncryption } from "../crypto/key-encryption.js";
import type { SecretRepository, StoredSecret } from "../store/secret-repository.js";
import type { Store } from "../store/store.js";

const serviceSecretAad = (name: string) => `service_secret/${name}`;

/** A stored secret's bytes: unwrapped, or the plaintext an older version left. */
function plaintextOf(encryption: KeyEncryption, stored: StoredSecret): Buffer {
  return stored.kekId === null ? stored.secret : encryption.unwrap({ kekId: stored.kekId, ciphertext: stored.secret }, serviceSecretAad(stored.name));
}

/** Stores a secret wrapped under the current KEK (from plaintext or from an older KEK); returns its bytes. */
export async function rewrapServiceSecret(secrets: SecretRepository, encryption: KeyEncryption, stored: StoredSecret): Promise<Buffer> {
  const plaintext = plaintextOf(encryption, stored);
  const wrapped = encryption.wrap(plaintext, serviceSecretAad(stored.name));
  await secrets.storeWrapped(stored.name, wrapped.ciphertext, wrapped.kekId);
  return plaintext;
}

/**
 * A 256-bit secret every replica shares, created by whichever replica starts
 * first and kept wrapped under the KEK. A plaintext row left by an older
 * version is wrapped on the way.
 */
export async function loadServiceSecret(store: Store, encryption: KeyEncryption, name: string): Promise<Buffer> {
  return store.transaction(async ({ secrets }) => {
    const candidate = encryption.wrap(randomBytes(32), serviceSecretAad(name));
    const stored = await secrets.ensure(name, { secret: candidate.ciphertext, kekId: candidate.kekId });
    return stored.kekId === null ? rewrapServiceSecret(secrets, encryption, stored) : plaintextOf(encryption, stored);
  });
}
