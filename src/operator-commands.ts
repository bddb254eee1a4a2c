import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { Config } from "./config.js";
import { openKeyEncryption } from "./crypto/kek-files.js";
import { systemClock } from "./domain/context.js";
import { findSessions, type SessionQuery } from "./domain/find-sessions.js";
import { importRefreshTokens } from "./domain/import-refresh-tokens.js";
import { fenceAfterRestore } from "./domain/restore-fence.js";
import { revokeSession } from "./domain/revoke-session.js";
import { revokeAllTokens, revokeUserTokens } from "./domain/revoke-tokens.js";
import { sessionState } from "./domain/session-state.js";
import { KeyRing } from "./domain/signing-keys.js";
import { TokenIssuer } from "./domain/token-issuer.js";
import { UsageError } from "./keys-command.js";
import type { Logger } from "./logger.js";
import { keySettingsOf } from "./main.js";
import { openDatabase } from "./store/database.js";
import { migrate } from "./store/migrate.js";
import type { SessionRecord } from "./store/records.js";
import { Store } from "./store/store.js";
import { textTable } from "./text-table.js";
import { operatorCaller } from "./operator-caller.js";

export const operatorUsage = `  sessions find --user U | --org O | --session ID | --jti JTI [--limit N]
                                   sessions in every state, newest first (a jti from an access token finds its session)
  sessions revoke <session-id> [--reason R]
                                   end one session and its tokens
  users revoke-tokens <user-id> [--reason R]
                                   end every token of a user (bumps the user's token version)
  revoke-all --reason R            breach response: end every token of every user (bumps the global version)
  restore-fence                    after restoring a backup, before serving: end every token issued before
                                   (global version past any issued) and replace every signing key in the copy
  import <file.jsonl | -> --caller NAME [--dry-run]
                                   bring in refresh tokens from another store by their SHA-256 (see README);
                                   bcrypt-hashed ones cannot be imported
  (add --json to keys, sessions, users, revoke-all, restore-fence and import for machine-readable output)`;

export const OPERATOR_COMMANDS = ["sessions", "users", "revoke-all", "restore-fence", "import"] as const;

const iso = (date: Date | null) => (date === null ? "-" : date.toISOString());

function sessionTable(sessions: readonly SessionRecord[], now: Date): string {
  return textTable([
    ["SESSION", "USER", "ORG", "STATE", "CREATED", "LAST ACTIVE", "EXPIRES", "CREATED BY", "DEVICE"],
    ...sessions.map((s) => [s.id, s.userId, s.activeOrgId ?? "-", sessionState(s, now), iso(s.createdAt), iso(s.lastActivityAt), iso(s.expiresAt), s.createdBy, s.deviceName ?? "-"]),
  ]);
}

const sessionJson = (s: SessionRecord, now: Date) => ({
  sessionId: s.id,
  userId: s.userId,
  activeOrgId: s.activeOrgId,
  state: sessionState(s, now),
  createdAt: s.createdAt,
  lastActivityAt: s.lastActivityAt,
  expiresAt: s.expiresAt,
  revokedAt: s.revokedAt,
  revokeReason: s.revokeReason,
  createdBy: s.createdBy,
  deviceName: s.deviceName,
});

/**
 * The operator commands beside `serve` and `keys`: the same domain code as
 * the RPCs, run against the database directly (so they work with no server
 * up, and on the embedded default only while no server holds its folder).
 * Replicas see revocations through the revocation feed at once.
 */
export async function runOperatorCommand(command: string, args: readonly string[], config: Config, logger: Logger, print: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      user: { type: "string" },
      org: { type: "string" },
      session: { type: "string" },
      jti: { type: "string" },
      limit: { type: "string", default: "100" },
      reason: { type: "string", default: "" },
      caller: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const request = parseRequest(command, positionals, values);
  if (request.kind === "import") assertKnownCaller(config, request.presentedBy);
  const importText = request.kind !== "import" ? "" : request.file === "-" ? readFileSync(0, "utf8") : await readFile(request.file, "utf8");

  const database = await openDatabase(config.database);
  try {
    await migrate(database);
    const store = new Store(database);
    const clock = systemClock;
    const caller = operatorCaller();
    const orgScopes = new Map<string, readonly string[]>();
    const settings = { ...config.tokens, ...config.sessions };
    const now = clock.now();
    switch (request.kind) {
      case "find": {
        const sessions = await findSessions({ store, clock }, request.query, request.limit);
        print(values.json ? JSON.stringify({ sessions: sessions.map((s) => sessionJson(s, now)) }, null, 2) : sessions.length === 0 ? "no session found" : sessionTable(sessions, now));
        return 0;
      }
      case "revoke-session": {
        const session = await revokeSession({ store, clock, orgScopes }, caller, { sessionId: request.sessionId, reason: values.reason });
        print(values.json ? JSON.stringify({ session: sessionJson(session, now) }) : `revoked session ${session.id} (${session.revokeReason ?? "revoked"}); its tokens are refused by every replica now`);
        return 0;
      }
      case "revoke-user": {
        // The issuer is needed only to re-issue a kept session's tokens, which this command never asks for.
        const keyRing = new KeyRing(store, openKeyEncryption(config, logger), clock);
        const tokens = new TokenIssuer(keyRing, config.tokens, clock, randomBytes);
        const result = await revokeUserTokens({ store, clock, orgScopes, tokens, settings }, caller, { userId: request.userId, reason: values.reason, keepSessionId: "" });
        print(values.json ? JSON.stringify({ userId: request.userId, tokenVersion: result.tokenVersion.toString() }) : `every token of ${request.userId} is revoked (token version ${result.tokenVersion})`);
        return 0;
      }
      case "revoke-all": {
        const version = await revokeAllTokens({ store }, caller, { reason: values.reason });
        print(values.json ? JSON.stringify({ globalVersion: version.toString() }) : `every token of every user is revoked (global version ${version}); users must sign in again`);
        return 0;
      }
      case "restore-fence": {
        const fence = await fenceAfterRestore({ store, clock, encryption: openKeyEncryption(config, logger), keySettings: keySettingsOf(config) }, caller);
        print(
          values.json
            ? JSON.stringify({ globalVersion: fence.globalVersion.toString(), revokedKids: fence.revokedKids, signingKid: fence.signerKid })
            : `fenced: global version ${fence.globalVersion}, ${fence.revokedKids.length} signing key(s) revoked, ${fence.signerKid} signs now. Every token issued before is refused; users sign in again.`,
        );
        return 0;
      }
      case "import": {
        const report = await importRefreshTokens({ store, clock, settings, orgScopes: config.callers.orgScopes }, caller, { jsonLines: importText, presentedBy: request.presentedBy, dryRun: values["dry-run"] });
        if (values.json) {
          print(JSON.stringify(report, null, 2));
        } else {
          print(`${values["dry-run"] ? "dry run: nothing written; " : ""}imported ${report.imported}, already present ${report.alreadyPresent}, rejected ${report.rejected.length}`);
          for (const { line, reason } of report.rejected) print(`  line ${line}: ${reason}`);
        }
        return report.rejected.length > 0 ? 1 : 0;
      }
    }
  } finally {
    await database.close();
  }
}

/**
 * The sessions an import creates belong to the caller named; a name no
 * caller will ever present under makes sessions nobody can refresh. Without
 * mutual TLS or a mesh (whose names come from certificates, which cannot be
 * listed here) the callers are those of API_KEYS, or "anonymous" without keys.
 */
function assertKnownCaller(config: Config, name: string): void {
  if (config.grpc.tls?.clientCaFile !== undefined || config.callers.trustedProxies.identities.size > 0 || config.callers.trustedProxies.addresses.rules.length > 0) return;
  const known = new Set(config.callers.keys.map((key) => key.caller));
  if (known.size === 0) known.add("anonymous");
  if (!known.has(name)) {
    throw new UsageError(`import: --caller "${name}" is not a caller this configuration names (API_KEYS, or "anonymous" without keys): ${[...known].sort().join(", ")}`);
  }
}

type Request =
  | { readonly kind: "find"; readonly query: SessionQuery; readonly limit: number }
  | { readonly kind: "revoke-session"; readonly sessionId: string }
  | { readonly kind: "revoke-user"; readonly userId: string }
  | { readonly kind: "revoke-all" }
  | { readonly kind: "restore-fence" }
  | { readonly kind: "import"; readonly file: string; readonly presentedBy: string };

function parseRequest(command: string, positionals: readonly string[], values: Record<string, string | boolean | undefined>): Request {
  const [action, subject] = positionals;
  const text = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  if (command === "sessions" && action === "find") {
    const given = (["user", "org", "session", "jti"] as const).filter((name) => text(name) !== undefined);
    if (given.length !== 1) throw new UsageError("sessions find: give exactly one of --user, --org, --session, --jti");
    const limit = Number(text("limit"));
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError("sessions find: --limit must be a whole number from 1 to 10000");
    const value = text(given[0]!)!;
    const query: SessionQuery = given[0] === "user" ? { userId: value } : given[0] === "org" ? { orgId: value } : given[0] === "session" ? { sessionId: value } : { jti: value };
    return { kind: "find", query, limit };
  }
  if (command === "sessions" && action === "revoke" && subject !== undefined) return { kind: "revoke-session", sessionId: subject };
  if (command === "users" && action === "revoke-tokens" && subject !== undefined) return { kind: "revoke-user", userId: subject };
  if (command === "revoke-all") {
    if (!text("reason")) throw new UsageError("revoke-all: --reason is required: say why every token is being revoked");
    return { kind: "revoke-all" };
  }
  if (command === "restore-fence") return { kind: "restore-fence" };
  if (command === "import" && action !== undefined) {
    const presentedBy = text("caller");
    if (presentedBy === undefined) throw new UsageError("import: --caller is required: the caller name (as in API_KEYS) that will present these tokens to RefreshTokens");
    return { kind: "import", file: action, presentedBy };
  }
  throw new UsageError(`${command}: see the usage below`);
}
