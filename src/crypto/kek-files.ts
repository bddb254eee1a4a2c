import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ConfigError, type Config } from "../config.js";
import type { Logger } from "../logger.js";
import { generateKekText, KeyEncryption, parseKek } from "./key-encryption.js";

export const EMBEDDED_KEK_FILE_NAME = "kek";

function readKek(file: string, variable: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const kek = parseKek(text);
  if (kek === undefined) {
    throw new ConfigError(`invalid configuration: ${variable}: ${file} must hold 32 bytes as base64 or 64 hex digits (e.g. \`openssl rand -base64 32\`)`);
  }
  return kek;
}

/**
 * The KEKs from configuration. On the embedded default without KEK_FILE one
 * is generated in the data folder: that keeps keys out of plain sight in a
 * copied database file, but not from whoever can read the folder, so we warn.
 */
export function openKeyEncryption(config: Config, logger: Logger): KeyEncryption {
  const previous = config.signingKeys.previousKekFiles.map((file) => readKek(file, "KEK_PREVIOUS_FILES"));
  if (config.signingKeys.kekFile !== undefined) return new KeyEncryption(readKek(config.signingKeys.kekFile, "KEK_FILE"), previous);
  const file = path.join(config.database.dataDir, EMBEDDED_KEK_FILE_NAME);
  mkdirSync(config.database.dataDir, { recursive: true });
  try {
    writeFileSync(file, generateKekText(), { flag: "wx", mode: 0o600 });
    logger.warn({ file }, "KEK_FILE not set: generated a key-encryption key in the data folder. Set KEK_FILE to a key kept apart from the data before production.");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    logger.warn({ file }, "KEK_FILE not set: using the key-encryption key in the data folder. Set KEK_FILE to a key kept apart from the data before production.");
  }
  return new KeyEncryption(readKek(file, "KEK_FILE (generated)"), previous);
}
