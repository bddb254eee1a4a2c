import { parseArgs } from "node:util";
import type { Config } from "./config.js";
import { openKeyEncryption } from "./crypto/kek-files.js";
import { systemClock } from "./domain/context.js";
import { listSigningKeys, revokeSigningKey, rewrapSecrets, rotateSigningKey, type SigningKeyView } from "./domain/signing-key-lifecycle.js";
import type { Logger } from "./logger.js";
import { keySettingsOf } from "./main.js";
import { DataFolderInUseError } from "./store/data-folder-lock.js";
import { openDatabase } from "./store/database.js";
import { KeysViaServer } from "./keys-via-server.js";
import { migrate } from "./store/migrate.js";
import { Store } from "./store/store.js";
import { textTable } from "./text-table.js";
import { operatorCaller } from "./operator-caller.js";

export const keysUsage = `  keys list                        every signing key with its stage and timeline
  keys rotate [--reason R]         publish the next key; it signs after JWKS_MAX_AGE + KEY_REFRESH_INTERVAL
  keys revoke <kid> [--reason R] [--revoke-all-tokens]
                                   emergency: the key leaves the JWKS and its tokens are refused at once
  keys rewrap                      re-encrypt every private key under KEK_FILE (old KEKs in KEK_PREVIOUS_FILES)`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const iso = (date: Date | null) => (date === null ? "-" : date.toISOString());

function table(keys: readonly SigningKeyView[]): string {
  return textTable([
    ["KID", "ALG", "STAGE", "PUBLISHED", "SIGNS FROM", "RETIRES", "REVOKED", "KEK"],
    ...keys.map((key) => [key.kid, key.algorithm, key.stage, iso(key.publishedAt), iso(key.activatesAt), iso(key.retiresAt), iso(key.revokedAt), key.kekId ?? "plaintext"]),
  ]);
}

/**
 * `session-authority keys …`: the same domain code as the RPCs, run against
 * the database directly, so an operator can act when no server is up.
 * Replicas pick the change up within KEY_REFRESH_INTERVAL; a revoked key's
 * tokens are refused by every replica at once.
 */
export async function runKeysCommand(args: readonly string[], config: Config, logger: Logger, print: (text: string) => void): Promise<number> {
  // A kid is base64url and may begin with "-": take it by position before
  // option parsing can mistake it for a flag.
  const flags = new Set(["--reason", "--revoke-all-tokens", "--json"]);
  const kidArgument = args[0] === "revoke" && args[1] !== undefined && !flags.has(args[1].split("=")[0] ?? "") ? args[1] : undefined;
  const rest = kidArgument === undefined ? [...args] : [args[0] ?? "", ...args.slice(2)];
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { reason: { type: "string", default: "" }, "revoke-all-tokens": { type: "boolean", default: false }, json: { type: "boolean", default: false } },
  });
  const [action, positionalKid] = positionals;
  const kid = kidArgument ?? positionalKid;
  if (action === undefined || !["list", "rotate", "revoke", "rewrap"].includes(action)) throw new UsageError(`keys: expected list, rotate, revoke or rewrap`);
  if (action === "revoke" && kid === undefined) throw new UsageError("keys revoke: which key? pass its kid (see `keys list`)");
  const show = (keys: readonly SigningKeyView[], extra: object = {}) => print(values.json ? JSON.stringify({ ...extra, keys }, null, 2) : table(keys));

  const encryption = openKeyEncryption(config, logger);
  let database: Awaited<ReturnType<typeof openDatabase>>;
  try {
    database = await openDatabase(config.database);
  } catch (error) {
    // The embedded folder belongs to a running server: act through its RPCs.
    if (!(error instanceof DataFolderInUseError) || action === "rewrap") throw error;
    const server = new KeysViaServer(config);
    try {
      if (!values.json) print("(the data folder is in use by a running server: acting through its RPCs)");
      if (action === "list") show(await server.list());
      else if (action === "rotate") reportRotation(await server.rotate(values.reason));
      else reportRevocation(await server.revoke(kid!, values.reason, values["revoke-all-tokens"]));
      return 0;
    } finally {
      server.close();
    }
  }
  try {
    await migrate(database);
    const store = new Store(database);
    const deps = { store, clock: systemClock, encryption, keySettings: keySettingsOf(config) };
    const caller = operatorCaller();
    if (action === "list") {
      show(await listSigningKeys(deps));
    } else if (action === "rotate") {
      reportRotation(await rotateSigningKey(deps, caller, { reason: values.reason }));
    } else if (action === "revoke") {
      reportRevocation(await revokeSigningKey(deps, caller, { kid: kid!, reason: values.reason, bumpGlobalVersion: values["revoke-all-tokens"] }));
    } else {
      const counts = await rewrapSecrets(store, encryption, caller);
      print(values.json ? JSON.stringify({ kekId: encryption.currentKekId, ...counts }) : `re-wrapped ${counts.signingKeys} signing key(s) and ${counts.secrets} secret(s) under KEK ${encryption.currentKekId}`);
    }
    return 0;
  } finally {
    await database.close();
  }

  function reportRotation(keys: readonly SigningKeyView[]): void {
    const next = keys.find((key) => key.stage === "published");
    if (!values.json && next !== undefined) print(`published ${next.kid}; it signs from ${next.activatesAt.toISOString()}\n`);
    show(keys);
  }

  function reportRevocation(result: { keys: readonly SigningKeyView[]; signerKid: string; globalVersion: bigint | undefined }): void {
    if (!values.json) {
      print(`revoked ${kid}: it left the JWKS and every token it signed is refused; ${result.signerKid} signs now.`);
      print(
        result.globalVersion === undefined
          ? "Refresh tokens are not signed and stay valid. If the key leaked with access to the database, also revoke every token:\n" +
              `  session-authority keys revoke ${kid} --revoke-all-tokens   (or the RevokeAllTokens RPC)\n`
          : `every access and refresh token was revoked too (global version ${result.globalVersion}).\n`,
      );
    }
    show(result.keys, { signingKid: result.signerKid, globalVersion: result.globalVersion?.toString() });
  }
}
