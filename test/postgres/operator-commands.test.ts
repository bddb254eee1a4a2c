import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { failure } from "../support/clients.js";
import { useReplicas } from "../support/replicas.js";
import { rememberSecret } from "../support/secret-scan.js";
import { runCli } from "../support/service-process.js";
import { watch } from "../support/watch.js";

/** Runs an operator command to completion: exit code, stdout, everything. */
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; output: string }> {
  const run = runCli(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout(), output: run.output.join("\n") };
}

interface FoundSession {
  sessionId: string;
  userId: string;
  activeOrgId: string | null;
  state: string;
  revokeReason: string | null;
}

async function find(env: Record<string, string>, ...query: string[]): Promise<FoundSession[]> {
  const run = await cli(["sessions", "find", ...query, "--json"], env);
  expect(run.code, run.output).toBe(0);
  return (JSON.parse(run.stdout) as { sessions: FoundSession[] }).sessions;
}

describe("the operator commands against a running replica", () => {
  const { freshDatabase, serve, servers, clients } = useReplicas();
  const copies: string[] = [];
  const admin = () => new pg.Client({ connectionString: inject("postgresAdminUrl") });

  const stopServers = async () => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers) server.child.kill("SIGTERM");
    await Promise.all(servers.splice(0).map((server) => server.exited));
  };
  /** A copy of a database, as a backup restored elsewhere would be (no connections may be open on it). */
  const copyDatabase = async (url: string) => {
    const source = new URL(url).pathname.slice(1);
    const name = `${source}_restored`;
    const client = admin();
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(source)}`);
    } finally {
      await client.end();
    }
    copies.push(name);
    const copy = new URL(url);
    copy.pathname = `/${name}`;
    return copy.toString();
  };
  let scratch = "";

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "sa-operator-"));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
    const client = admin();
    await client.connect();
    for (const name of copies) await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
    await client.end();
  });

  it("finds sessions by user, organisation, session id and an access token's jti, and revokes them in every scope", async () => {
    const env = { DATABASE_URL: await freshDatabase() };
    const replica = await serve(env);
    const ann = await replica.session("CreateSession", { user_id: "op-ann", active_org_id: "org-blue" });
    const annPhone = await replica.session("CreateSession", { user_id: "op-ann", device_name: "phone" });
    const bob = await replica.session("CreateSession", { user_id: "op-bob", active_org_id: "org-blue" });
    const annId = ann.session?.session_id ?? "";

    expect((await find(env, "--user", "op-ann")).map((s) => s.sessionId).sort()).toEqual([annId, annPhone.session?.session_id].sort());
    expect((await find(env, "--org", "org-blue")).map((s) => s.userId).sort()).toEqual(["op-ann", "op-bob"]);
    expect((await find(env, "--session", annId)).map((s) => s.userId)).toEqual(["op-ann"]);
    // A jti, as a resource server would log it, leads to its session: the login's and a refreshed token's.
    const loginJti = String(decodeJwt(ann.tokens?.access_token ?? "").jti);
    expect((await find(env, "--jti", loginJti)).map((s) => s.sessionId)).toEqual([annId]);
    const refreshed = await replica.token("RefreshTokens", { refresh_token: bob.tokens?.refresh_token ?? "" });
    expect((await find(env, "--jti", String(decodeJwt(refreshed.tokens?.access_token ?? "").jti))).map((s) => s.userId)).toEqual(["op-bob"]);
    const table = await cli(["sessions", "find", "--user", "op-ann"], env);
    expect(table.stdout).toMatch(new RegExp(`${annId}\\s+op-ann\\s+org-blue\\s+active`));

    // One session: refused at once by the running replica.
    expect((await cli(["sessions", "revoke", annId, "--reason", "stolen_laptop"], env)).code).toBe(0);
    const revoked = await failure(replica.token("VerifyAccessToken", { access_token: ann.tokens?.access_token ?? "" }));
    expect(revoked.errorInfo?.reason).toBe("TOKEN_REVOKED");
    expect((await find(env, "--session", annId))[0]).toMatchObject({ state: "revoked", revokeReason: "stolen_laptop" });
    // Every token of one user: the other user is untouched.
    expect((await cli(["users", "revoke-tokens", "op-ann", "--reason", "password_reset"], env)).code).toBe(0);
    const stale = await failure(replica.token("RefreshTokens", { refresh_token: annPhone.tokens?.refresh_token ?? "" }));
    expect(stale.errorInfo?.reason).toBe("VERSION_STALE");
    expect((await replica.token("VerifyAccessToken", { access_token: refreshed.tokens?.access_token ?? "" })).claims?.user_id).toBe("op-bob");
    // Every token of everyone.
    expect((await cli(["revoke-all"], env)).code).toBe(2);
    const all = await cli(["revoke-all", "--reason", "signing_key_leaked", "--json"], env);
    expect(all.code).toBe(0);
    expect(Number((JSON.parse(all.stdout) as { globalVersion: string }).globalVersion)).toBeGreaterThan(0);
    const everyone = await failure(replica.token("RefreshTokens", { refresh_token: refreshed.tokens?.refresh_token ?? "" }));
    expect(everyone.errorInfo?.reason).toBe("VERSION_STALE");
  }, 120_000);

  it("imports refresh tokens stored as SHA-256 hashes, which then refresh like ours; refuses bcrypt rows and adds nothing twice", async () => {
    const env = { DATABASE_URL: await freshDatabase() };
    const replica = await serve(env);
    // As another system issued and stored them: opaque strings, only their SHA-256 kept.
    const legacyTokens = ["legacy-refresh-token-0001-abcdefghijklmnop", "legacy-refresh-token-0002-abcdefghijklmnop"];
    for (const token of legacyTokens) rememberSecret(token);
    const sha256 = (token: string, encoding: "hex" | "base64") => createHash("sha256").update(token).digest(encoding);
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const issued = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const rows = [
      { user_id: "imp-ann", token_sha256: sha256(legacyTokens[0]!, "hex"), issued_at: issued, expires_at: expires, org_id: "org-blue", device_name: "old app" },
      { user_id: "imp-bob", token_sha256: sha256(legacyTokens[1]!, "base64"), issued_at: issued, expires_at: "2099-01-01T00:00:00Z" },
      { user_id: "imp-cy", token_sha256: "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", issued_at: issued, expires_at: expires },
      { user_id: "imp-dee", token_sha256: sha256("expired-token-000000000", "hex"), issued_at: issued, expires_at: "2020-01-01T00:00:00Z" },
      { user_id: "imp-eve", token_sha256: sha256("revoked-since-token-0000", "hex"), issued_at: issued, expires_at: expires },
      { user_id: "imp-zed", token_sha256: sha256(legacyTokens[0]!, "hex"), issued_at: issued, expires_at: expires },
      { user_id: "imp-fay", token_sha256: sha256("local-time-token-000000", "hex"), issued_at: issued, expires_at: "2030-12-01 10:00:00" },
      { user_id: "imp-gus", token_sha256: sha256("old-login-token-0000000", "hex"), issued_at: new Date(Date.now() - 100 * 86_400_000).toISOString(), expires_at: expires },
    ];
    const file = path.join(scratch, "tokens.jsonl");
    await writeFile(file, `${rows.map((row) => JSON.stringify(row)).join("\n")}\nnot json\n`);
    // Eve's tokens were all revoked here after hers was issued: importing it must not revive it.
    expect((await cli(["users", "revoke-tokens", "imp-eve"], env)).code).toBe(0);

    const dry = await cli(["import", file, "--caller", "anonymous", "--dry-run"], env);
    expect(dry.stdout).toContain("dry run: nothing written; imported 0");
    expect(await find(env, "--user", "imp-ann")).toEqual([]);
    // A caller nobody presents as would own sessions nobody can refresh.
    const typo = await cli(["import", file, "--caller", "login-servce"], env);
    expect(typo.code).toBe(2);
    expect(typo.output).toContain('--caller "login-servce" is not a caller this configuration names');

    const imported = await cli(["import", file, "--caller", "anonymous"], env);
    // Rejected rows make the exit code 1, with a line each saying why.
    expect(imported.code).toBe(1);
    expect(imported.stdout).toContain("imported 2, already present 0, rejected 7");
    expect(imported.stdout).toMatch(/line 3: bcrypt-hashed .*cannot be imported/);
    expect(imported.stdout).toContain("line 4: expired");
    expect(imported.stdout).toContain("line 5: issued before its user's (or every user's) tokens were revoked here");
    expect(imported.stdout).toContain("line 6: this token_sha256 is already stored for another user");
    expect(imported.stdout).toContain("line 7: expires_at must be an ISO 8601 time with its zone");
    expect(imported.stdout).toContain("line 8: its session would have ended: issued_at + SESSION_TTL is past");
    expect(imported.stdout).toContain("line 9: not a JSON object");
    expect(imported.output).not.toContain(legacyTokens[0]);
    // This server's lifetimes hold: a token "valid until 2099" is in a session of SESSION_TTL (90 days) from its login.
    const [bobSession] = await find(env, "--user", "imp-bob");
    expect(new Date((bobSession as unknown as { expiresAt: string }).expiresAt).getTime()).toBeLessThanOrEqual(Date.now() + 88 * 86_400_000);

    // The old token refreshes through the running replica; its successor is one of ours.
    const rotated = await replica.token("RefreshTokens", { refresh_token: legacyTokens[0]! });
    expect(rotated.tokens?.refresh_token).toMatch(/^sa_rt_/);
    expect(Number(rotated.tokens?.refresh_token_expires_at?.seconds) * 1000).toBeLessThanOrEqual(Date.now() + 31 * 86_400_000);
    expect(rotated.session).toMatchObject({ user_id: "imp-ann", active_org_id: "org-blue", device_name: "old app" });
    expect((await replica.token("VerifyAccessToken", { access_token: rotated.tokens?.access_token ?? "" })).claims?.user_id).toBe("imp-ann");
    // Presenting it again is reuse, as for any spent token (another client, past the burst).
    expect((await failure(replica.token("RefreshTokens", { refresh_token: legacyTokens[0]!, user_agent: "thief" }))).errorInfo?.reason).toBe("TOKEN_REUSED");
    // Imported sessions obey revocations like the others.
    expect((await cli(["users", "revoke-tokens", "imp-bob"], env)).code).toBe(0);
    expect((await failure(replica.token("RefreshTokens", { refresh_token: legacyTokens[1]! }))).errorInfo?.reason).toBe("VERSION_STALE");

    const again = await cli(["import", file, "--caller", "anonymous"], env);
    expect(again.stdout).toContain("imported 0, already present 2, rejected 7");
    expect(await find(env, "--user", "imp-ann")).toHaveLength(1);
  }, 120_000);

  it("fences a restored backup: tokens revoked after it, or signed by a key revoked after it, stay dead", async () => {
    const url = await freshDatabase();
    const env = { DATABASE_URL: url };
    let replica = await serve(env);
    const before = await replica.session("CreateSession", { user_id: "rs-ann" });
    await stopServers();
    // The backup: a copy of the database as it is now.
    const backup = await copyDatabase(url);
    replica = await serve(env);
    // After the backup: everyone logged out, a new login, then its key revoked as leaked.
    expect((await cli(["revoke-all", "--reason", "breach"], env)).code).toBe(0);
    const after = await replica.session("CreateSession", { user_id: "rs-bob" });
    const leakedKid = String(decodeProtectedHeader(after.tokens?.access_token ?? "").kid);
    expect((await cli(["keys", "revoke", leakedKid, "--reason", "leaked"], env)).code).toBe(0);
    await stopServers();

    // Restored: the copy knows nothing of that, and both tokens pass again.
    const restored = { DATABASE_URL: backup };
    replica = await serve(restored);
    const verify = (token: string | undefined) => replica.token("VerifyAccessToken", { access_token: token ?? "" });
    expect((await verify(before.tokens?.access_token)).claims?.user_id).toBe("rs-ann");
    expect((await verify(after.tokens?.access_token)).claims?.user_id).toBe("rs-bob");

    // A watcher (an embedded verifier) following the restored database's feed.
    const staleCursor = (await replica.token("GetRevocationSnapshot", {})).cursor;
    // The procedure: stop, fence, serve.
    await stopServers();
    const fence = await cli(["restore-fence", "--json"], restored);
    expect(fence.code, fence.output).toBe(0);
    const fenced = JSON.parse(fence.stdout) as { globalVersion: string; revokedKids: string[]; signingKid: string };
    expect(fenced.revokedKids).toContain(leakedKid);
    expect(fenced.revokedKids).not.toContain(fenced.signingKid);
    expect(BigInt(fenced.globalVersion)).toBeGreaterThan(1_000_000_000n);
    replica = await serve(restored);
    for (const token of [before.tokens?.access_token, after.tokens?.access_token]) {
      expect(["TOKEN_KEY_REVOKED", "VERSION_STALE"]).toContain((await failure(verify(token))).errorInfo?.reason);
    }
    expect((await failure(replica.token("RefreshTokens", { refresh_token: before.tokens?.refresh_token ?? "" }))).errorInfo?.reason).toBe("VERSION_STALE");
    // Cursors from before the fence cannot resume (they would skip events); a new snapshot's can.
    const refused = await watch(replica.tokens, { cursor: staleCursor }).ended;
    expect(refused).toMatchObject({ code: 11, reason: "CURSOR_EXPIRED" });
    const snapshot = await replica.token("GetRevocationSnapshot", {});
    expect(snapshot.cursor).toMatch(/^[1-9]\d*:\d+\.\d+$/);
    const resumed = watch(replica.tokens, { cursor: snapshot.cursor });
    await resumed.until((messages) => messages.some((message) => message.heartbeat !== null && message.heartbeat !== undefined));
    resumed.cancel();
    // New logins work, signed by the new key.
    const fresh = await replica.session("CreateSession", { user_id: "rs-cy" });
    expect(decodeProtectedHeader(fresh.tokens?.access_token ?? "").kid).toBe(fenced.signingKid);
    expect((await verify(fresh.tokens?.access_token)).claims?.user_id).toBe("rs-cy");
  }, 120_000);

  it("explains what it needs instead of guessing", async () => {
    const env = { DATABASE_URL: await freshDatabase() };
    const none = await cli(["sessions", "find"], env);
    expect(none.code).toBe(2);
    expect(none.output).toContain("give exactly one of --user, --org, --session, --jti");
    const noCaller = await cli(["import", "tokens.jsonl"], env);
    expect(noCaller.code).toBe(2);
    expect(noCaller.output).toContain("--caller is required");
    const badJti = await cli(["sessions", "find", "--jti", "not-a-uuid"], env);
    expect(badJti.code).toBe(1);
    expect(badJti.output).toContain("jti");
  }, 60_000);
});
