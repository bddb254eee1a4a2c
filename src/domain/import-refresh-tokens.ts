import type { ImportedToken } from "../store/import-repository.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { optionalId, optionalIp, optionalText, requiredId } from "./validation.js";

// Rows are written in batches, each one transaction: a large import neither
// holds one huge transaction nor leaves a batch half written.
const BATCH = 500;
// Slow password hashes: a token can only be checked against one, never found by it.
const PASSWORD_HASH = /^\$(2[abxy]|argon2(id|i|d)|scrypt|pbkdf2)/;

export interface ImportReport {
  readonly imported: number;
  /** Already imported (their hash is stored): re-running an import adds nothing. */
  readonly alreadyPresent: number;
  /** Rows not imported, with why: expired, bcrypt-hashed, malformed. */
  readonly rejected: readonly { readonly line: number; readonly reason: string }[];
}

/** A SHA-256 given as 64 hex digits or as base64 / base64url (43 or 44 characters). */
function sha256Of(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    return bytes.length === 32 ? bytes : undefined;
  }
  return undefined;
}

const text = (value: unknown) => (typeof value === "string" ? value : "");

function parseRow(row: Record<string, unknown>, now: Date, sessionTtlMs: number): ImportedToken | string {
  const hashText = text(row["token_sha256"] ?? row["token_hash"]);
  if (PASSWORD_HASH.test(hashText) || row["token_bcrypt"] !== undefined) {
    return "bcrypt-hashed (or another password hash): cannot be imported. A presented token is found by its hash in one lookup, and a bcrypt hash can only be checked against a token already in hand; these users must sign in again";
  }
  const hash = sha256Of(hashText);
  if (hash === undefined) return "token_sha256 must be the SHA-256 of the token: 64 hex digits or 43-44 base64 characters";
  const expiresAt = new Date(text(row["expires_at"]));
  if (Number.isNaN(expiresAt.getTime())) return "expires_at must be an ISO 8601 time";
  if (expiresAt.getTime() <= now.getTime()) return "expired";
  const issuedAt = row["issued_at"] === undefined ? now : new Date(text(row["issued_at"]));
  if (Number.isNaN(issuedAt.getTime()) || issuedAt.getTime() > now.getTime()) return "issued_at must be an ISO 8601 time not in the future";
  try {
    return {
      userId: requiredId("user_id", text(row["user_id"])),
      hash,
      issuedAt,
      expiresAt,
      // The session lives as long as a new one would, and never shorter than its token.
      sessionExpiresAt: new Date(Math.max(expiresAt.getTime(), now.getTime() + sessionTtlMs)),
      activeOrgId: optionalId("org_id", text(row["org_id"])),
      deviceName: optionalText("device_name", text(row["device_name"]), 256),
      userAgent: optionalText("user_agent", text(row["user_agent"]), 1024),
      ipAddress: optionalIp("ip_address", text(row["ip_address"])),
    };
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Brings refresh tokens from another store (seed-style tables whose rows hold
 * the SHA-256 of each token) in as sessions of `presentedBy`, the caller that
 * will present them: RefreshTokens then rotates an imported token like one
 * of ours (its successor is ours), and every revocation applies to it.
 * Input: JSON Lines, one object per token: user_id, token_sha256, expires_at,
 * and optionally issued_at, org_id, device_name, user_agent, ip_address.
 */
export async function importRefreshTokens(
  deps: Pick<Dependencies, "store" | "clock" | "settings">,
  caller: Caller,
  input: { readonly jsonLines: string; readonly presentedBy: string; readonly dryRun: boolean },
): Promise<ImportReport> {
  const presentedBy = requiredId("caller", input.presentedBy);
  const now = deps.clock.now();
  const rejected: { line: number; reason: string }[] = [];
  const tokens: ImportedToken[] = [];
  input.jsonLines.split("\n").forEach((raw, index) => {
    if (raw.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch {
      rejected.push({ line: index + 1, reason: "not a JSON object" });
      return;
    }
    const parsed = typeof row === "object" && row !== null && !Array.isArray(row) ? parseRow(row as Record<string, unknown>, now, deps.settings.sessionTtlMs) : "not a JSON object";
    if (typeof parsed === "string") rejected.push({ line: index + 1, reason: parsed });
    else tokens.push(parsed);
  });
  if (input.dryRun) return { imported: 0, alreadyPresent: 0, rejected };
  let imported = 0;
  let alreadyPresent = 0;
  for (let from = 0; from < tokens.length; from += BATCH) {
    const batch = tokens.slice(from, from + BATCH);
    const counts = await deps.store.transaction(async (repos) => {
      const result = await repos.imports.importTokens(batch, presentedBy, Math.ceil(deps.settings.refreshTtlMs / 1000));
      if (result.imported > 0) {
        await repos.audit.record([{ actor: caller.id, action: "refresh_tokens_imported", reason: `${result.imported} token(s) as sessions of ${presentedBy}` }]);
      }
      return result;
    });
    imported += counts.imported;
    alreadyPresent += counts.skipped;
  }
  return { imported, alreadyPresent, rejected };
}
