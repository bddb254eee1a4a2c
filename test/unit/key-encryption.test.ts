import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateKekText, KeyEncryption, KeyEncryptionError, kekIdOf, parseKek } from "../../src/crypto/key-encryption.js";

describe("key encryption (KEK envelopes)", () => {
  const kek = randomBytes(32);
  const secret = Buffer.from('{"kty":"OKP","d":"private"}');

  it("round-trips under the current KEK and names it by a fingerprint, not the key", () => {
    const encryption = new KeyEncryption(kek);
    const wrapped = encryption.wrap(secret, "kid-1");
    expect(wrapped.kekId).toBe(kekIdOf(kek));
    expect(wrapped.kekId).not.toContain(kek.toString("hex").slice(0, 8));
    expect(wrapped.ciphertext.includes(secret)).toBe(false);
    expect(encryption.unwrap(wrapped, "kid-1")).toEqual(secret);
    // A fresh IV each time: the same secret never wraps to the same bytes.
    expect(encryption.wrap(secret, "kid-1").ciphertext.equals(wrapped.ciphertext)).toBe(false);
  });

  it("refuses a ciphertext moved to another row, altered, or under a KEK it does not have", () => {
    const encryption = new KeyEncryption(kek);
    const wrapped = encryption.wrap(secret, "kid-1");
    expect(() => encryption.unwrap(wrapped, "kid-2")).toThrow(KeyEncryptionError);
    const altered = Buffer.from(wrapped.ciphertext);
    altered[20] = (altered[20] ?? 0) ^ 1;
    expect(() => encryption.unwrap({ ...wrapped, ciphertext: altered }, "kid-1")).toThrow(/altered or belongs to another row/);
    const other = new KeyEncryption(randomBytes(32));
    expect(() => other.unwrap(wrapped, "kid-1")).toThrow(/neither KEK_FILE .* nor one of KEK_PREVIOUS_FILES/);
  });

  it("unwraps with a previous KEK while wrapping with the current one", () => {
    const old = new KeyEncryption(kek).wrap(secret, "kid-1");
    const rotated = new KeyEncryption(randomBytes(32), [kek]);
    expect(rotated.unwrap(old, "kid-1")).toEqual(secret);
    expect(rotated.wrap(secret, "kid-1").kekId).toBe(rotated.currentKekId);
    expect(rotated.currentKekId).not.toBe(old.kekId);
  });

  it("reads KEK files as base64 or hex, and refuses anything that is not 32 bytes", () => {
    expect(parseKek(generateKekText())).toHaveLength(32);
    expect(parseKek(kek.toString("base64url"))).toEqual(kek);
    expect(parseKek(`${kek.toString("hex")}\n`)).toEqual(kek);
    expect(parseKek(randomBytes(16).toString("base64"))).toBeUndefined();
    expect(parseKek("correct horse battery staple")).toBeUndefined();
  });
});
