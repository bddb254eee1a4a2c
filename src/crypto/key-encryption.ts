import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Envelope encryption of the secrets we keep in the database (private signing
 * keys, the grace HMAC key) under a key-encryption key (KEK) that never is in
 * the database. AES-256-GCM; the associated data binds each ciphertext to the
 * row it belongs to, so a ciphertext copied onto another row does not decrypt.
 */

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEK_BYTES = 32;

export interface WrappedSecret {
  readonly kekId: string;
  readonly ciphertext: Buffer;
}

export class KeyEncryptionError extends Error {
  override readonly name = "KeyEncryptionError";
}

/**
 * Names a KEK without revealing it: a truncated SHA-256 of a 256-bit random
 * key tells an attacker nothing, and lets an operator see which KEK wrapped
 * which row.
 */
export function kekIdOf(kek: Buffer): string {
  return createHash("sha256").update("session-authority kek id\0").update(kek).digest("hex").slice(0, 16);
}

/** Reads a KEK file's text: 32 bytes as base64/base64url (what `openssl rand -base64 32` writes) or 64 hex digits. */
export function parseKek(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (bytes.length === KEK_BYTES) return bytes;
  }
  return undefined;
}

export function generateKekText(): string {
  return `${randomBytes(KEK_BYTES).toString("base64")}\n`;
}

/** The current KEK (wraps everything new) and the previous ones (still unwrap, until `keys rewrap`). */
export class KeyEncryption {
  private readonly byId: ReadonlyMap<string, Buffer>;
  private readonly current: Buffer;
  readonly currentKekId: string;

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    this.currentKekId = kekIdOf(current);
    this.byId = new Map([...previous, current].map((kek) => [kekIdOf(kek), kek]));
    this.current = current;
  }

  knows(kekId: string): boolean {
    return this.byId.has(kekId);
  }

  wrap(plaintext: Buffer, associatedData: string): WrappedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.current, iv);
    cipher.setAAD(Buffer.from(associatedData, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { kekId: this.currentKekId, ciphertext: Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]) };
  }

  unwrap(wrapped: WrappedSecret, associatedData: string): Buffer {
    const kek = this.byId.get(wrapped.kekId);
    if (kek === undefined) {
      throw new KeyEncryptionError(
        `"${associatedData}" is wrapped by KEK ${wrapped.kekId}, which is neither KEK_FILE (${this.currentKekId}) nor one of KEK_PREVIOUS_FILES`,
      );
    }
    const { ciphertext } = wrapped;
    if (ciphertext.length < 1 + IV_BYTES + TAG_BYTES || ciphertext[0] !== VERSION) {
      throw new KeyEncryptionError(`"${associatedData}" is not a wrapped secret this version can read`);
    }
    const iv = ciphertext.subarray(1, 1 + IV_BYTES);
    const tag = ciphertext.subarray(ciphertext.length - TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", kek, iv);
    decipher.setAAD(Buffer.from(associatedData, "utf8"));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext.subarray(1 + IV_BYTES, ciphertext.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new KeyEncryptionError(`"${associatedData}" does not decrypt under KEK ${wrapped.kekId}: it was altered or belongs to another row`);
    }
  }
}
