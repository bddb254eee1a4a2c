import { randomBytes } from "node:crypto";
import type { KeyEncryption } from "../crypto/key-encryption.js";
import type { Store } from "../store/store.js";

export const serviceSecretAad = (name: string) => `service_secret/${name}`;

/**
 * A 256-bit secret every replica shares, created by whichever replica starts
 * first and kept wrapped under the KEK. A plaintext row left by an older
 * version is wrapped on the way.
 */
export async function loadServiceSecret(store: Store, encryption: KeyEncryption, name: string): Promise<Buffer> {
  const aad = serviceSecretAad(name);
  return store.transaction(async ({ secrets }) => {
    const candidate = encryption.wrap(randomBytes(32), aad);
    const stored = await secrets.ensure(name, { secret: candidate.ciphertext, kekId: candidate.kekId });
    if (stored.kekId !== null) return encryption.unwrap({ kekId: stored.kekId, ciphertext: stored.secret }, aad);
    const wrapped = encryption.wrap(stored.secret, aad);
    await secrets.storeWrapped(name, wrapped.ciphertext, wrapped.kekId);
    return stored.secret;
  });
}
