import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateKekText } from "../../src/crypto/key-encryption.js";
import { rememberSecret } from "./secret-scan.js";

/** Writes a fresh key-encryption key file, as an operator would with `openssl rand -base64 32`. */
export function writeKekFile(directory = mkdtempSync(path.join(tmpdir(), "sa-kek-")), name = "kek"): string {
  const file = path.join(directory, name);
  const text = generateKekText();
  rememberSecret(text.trim());
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

let shared: string | undefined;

/** One KEK for the processes of a test file that share a database (replicas must share it). */
export function sharedKekFile(): string {
  shared ??= writeKekFile();
  return shared;
}
