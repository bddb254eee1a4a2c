import type { ImportedToken } from "../store/import-repository.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { assertOrgAllowed } from "./org-scope.js";
import { optionalId, optionalIp, optionalText, requiredId } from "./validation.js";

// Rows are written in batches, each one transaction: a large import neither
// holds one huge transaction nor leaves a batch half written.
const BATCH = 500;
// Slow password hashes: a token can only be checked against one, never found by it.
const PASSWORD_HASH = /^\$(2[abxy]|argon2(id|i|d)|scrypt|pbkdf2)/;
// A time with its zone: a bare "2026-12-01 10:00" would be read in the operator's local time.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export interface ImportReport {
  readonly imported: number;
  /** Already imported (their hash is stored for the same user): re-running an import adds nothing. */
  readonly alreadyPresent: number;
  /** Rows not imported, with why: expired, revoked here since, bcrypt-hashed, malformed. */
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
const isoTime = (value: unknown) => (ISO_TIME.test(text(value)) ? new Date(text(value)) : undefined);

type Settings = Dependencies["settings"];

function parseRow(row: Record<string, unknown>, line: number, now: Date, settings: Settings, orgScopes: Dependencies["orgScopes"], presentedBy: string): ImportedToken | string {
  const hashText = text(row["token_sha256"] ?? row["token_hash"]);
  if (PASSWORD_HASH.test(hashText) || row["token_bcrypt"] !== undefined) {
    return "bcrypt-hashed (or another password hash): cannot be imported. A presented token is found by its hash in one lookup, and a bcrypt hash can only be checked against a token already in hand; these users must sign in again";
  }
  const hash = sha256Of(hashText);
  if (hash === undefined) return "token_sha256 must be the SHA-256 of the token: 64 hex digits or 43-44 base64 characters";
  const given = isoTime(row["expires_at"]);
  if (given === undefined || Number.isNaN(given.getTime())) return "expires_at must be an ISO 8601 time with its zone, e.g. 2026-12-01T10:00:00Z";
  if (given.getTime() <= now.getTime()) return "expired";
  // Needed to tell whether the token was revoked here after it was issued.
  const issuedAt = isoTime(row["issued_at"]);
  if (issuedAt === undefined || Number.isNaN(issuedAt.getTime()) || issuedAt.getTime() > now.getTime()) {
    return "issued_at must be an ISO 8601 time with its zone, not in the future";
  }
  try {
    const activeOrgId = optionalId("org_id", text(row["org_id"]));
    assertOrgAllowed(orgScopes, { id: presentedBy }, activeOrgId);
    // This server's limits hold for imported tokens too: the session lasts
    // SESSION_TTL (at most SESSION_TTL_MAX) from its login, as one created
    // here would; the token at most REFRESH_TOKEN_TTL_MAX from now and never
    // beyond its session.
    const sessionExpiresAt = new Date(issuedAt.getTime() + Math.min(settings.sessionTtlMs, settings.sessionTtlMaxMs));
    if (sessionExpiresAt.getTime() <= now.getTime()) return "its session would have ended: issued_at + SESSION_TTL is past";
    const expiresAt = new Date(Math.min(given.getTime(), now.getTime() + settings.refreshTtlMaxMs, sessionExpiresAt.getTime()));
    return {
      line,
      userId: requiredId("user_id", text(row["user_id"])),
      hash,
      issuedAt,
      expiresAt,
      sessionExpiresAt,
      activeOrgId,
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
 * Input: JSON Lines, one object per token: user_id, token_sha256,
 * issued_at, expires_at, and optionally org_id, device_name, user_agent,
 * ip_address.
 */
export async function importRefreshTokens(
  deps: Pick<Dependencies, "store" | "clock" | "settings" | "orgScopes">,
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
    const parsed =
      typeof row === "object" && row !== null && !Array.isArray(row)
        ? parseRow(row as Record<string, unknown>, index + 1, now, deps.settings, deps.orgScopes, presentedBy)
        : "not a JSON object";
    if (typeof parsed === "string") rejected.push({ line: index + 1, reason: parsed });
    else tokens.push(parsed);
  });
  if (input.dryRun) return { imported: 0, alreadyPresent: 0, rejected };
  let imported = 0;
  let alreadyPresent = 0;
  for (let from = 0; from < tokens.length; from += BATCH) {
    const batch = tokens.slice(from, from + BATCH);
    const outcome = await deps.store.transaction(async (repos) => {
      const result = await repos.imports.importTokens(batch, presentedBy, Math.ceil(deps.settings.refreshTtlMs / 1000));
      if (result.imported > 0) {
        await repos.audit.record([{ actor: caller.id, action: "refresh_tokens_imported", reason: `${result.imported} token(s) as sessions of ${presentedBy}` }]);
      }
      return result;
    });
    imported += outcome.imported;
    alreadyPresent += outcome.alreadyPresent;
    rejected.push(...outcome.refused);
  }
  rejected.sort((a, b) => a.line - b.line);
  return { imported, alreadyPresent, rejected };
}
