import { exportJWK, generateKeyPair, calculateJwkThumbprint, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { kekIdOf, parseKek } from "../../src/crypto/key-encryption.js";
import { failure } from "../support/clients.js";
import { writeKekFile } from "../support/kek.js";
import { useReplicas } from "../support/replicas.js";
import { runCli } from "../support/service-process.js";
import { sleep } from "../support/wait.js";
import { query } from "../support/sql.js";
import { readFileSync } from "node:fs";


async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

/** Runs a `keys …` command to completion; returns its exit code and output. */
async function keys(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string; stdout: string }> {
  const run = runCli(["keys", ...args], env);
  const code = await run.exited;
  return { code, output: run.output.join("\n"), stdout: run.stdout() };
}

describe("the `keys` commands against running replicas", () => {
  const { freshDatabase, serve, servers, clients } = useReplicas();

  it("a rotation staged from the CLI is published, then signs, on a running replica; a CLI revoke is refused there at once", async () => {
    const url = await freshDatabase();
    // Short delays so the real clock can walk the timeline.
    const env = { DATABASE_URL: url, JWKS_MAX_AGE: "2s", KEY_REFRESH_INTERVAL: "500ms" };
    const replica = await serve(env);
    const login = async () => (await replica.session("CreateSession", { user_id: "cli-keys" })).tokens?.access_token ?? "";
    const before = await login();
    const oldKid = decodeProtectedHeader(before).kid;

    const rotated = await keys(["rotate", "--json", "--reason", "quarterly"], env);
    expect(rotated.code).toBe(0);
    const listing = JSON.parse(rotated.stdout) as { keys: { kid: string; stage: string }[] };
    const newKid = listing.keys.find((key) => key.stage === "published")?.kid ?? "";
    expect(newKid).not.toBe("");
    // Published on the replica within its refresh interval, long before it signs.
    const jwks = await until(
      async () => (await replica.token("GetJwks", {})).keys.map((key) => key.kid),
      (kids) => kids.includes(newKid),
    );
    expect(jwks).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect(decodeProtectedHeader(await login()).kid).toBe(oldKid);
    const after = await until(login, (token) => decodeProtectedHeader(token).kid === newKid);
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    expect((await replica.token("VerifyAccessToken", { access_token: before })).claims?.user_id).toBe("cli-keys");

    // The revocation is refused by the replica on its next verification, before it re-reads its keys.
    const revoked = await keys(["revoke", newKid], env);
    expect(revoked.code).toBe(0);
    expect(revoked.output).toContain("--revoke-all-tokens");
    const refused = await failure(replica.token("VerifyAccessToken", { access_token: after }));
    expect([refused.codeName, refused.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_KEY_REVOKED"]);
    const gone = await until(
      async () => (await replica.token("GetJwks", {})).keys.map((key) => key.kid),
      (kids) => !kids.includes(newKid),
    );
    expect(gone).not.toContain(newKid);
    const listed = await keys(["list"], env);
    expect(listed.output).toMatch(new RegExp(`${newKid}\\s+EdDSA\\s+revoked`));
  }, 60_000);

  it("rewrap moves every secret to a new KEK; a server without the KEK its keys are under refuses to start, naming it", async () => {
    const url = await freshDatabase();
    const oldKek = writeKekFile();
    const newKek = writeKekFile();
    const first = await serve({ DATABASE_URL: url, KEK_FILE: oldKek });
    const token = (await first.session("CreateSession", { user_id: "rewrapped" })).tokens?.access_token ?? "";
    await first.token("RotateSigningKey", {});
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    const oldId = kekIdOf(parseKek(readFileSync(oldKek, "utf8")) ?? Buffer.alloc(0));
    const newId = kekIdOf(parseKek(readFileSync(newKek, "utf8")) ?? Buffer.alloc(0));

    const refused = runCli("serve", { DATABASE_URL: url, KEK_FILE: newKek });
    expect(await refused.exited).toBe(1);
    expect(refused.output.join("\n")).toContain(`wrapped by KEK ${oldId}, which is neither KEK_FILE (${newId})`);

    const rewrap = await keys(["rewrap"], { DATABASE_URL: url, KEK_FILE: newKek, KEK_PREVIOUS_FILES: oldKek });
    expect(rewrap.code).toBe(0);
    expect(rewrap.output).toContain(`re-wrapped 2 signing key(s) and 1 secret(s) under KEK ${newId}`);
    expect(await query(url, `SELECT DISTINCT kek_id FROM signing_keys UNION SELECT DISTINCT kek_id FROM service_secrets`)).toEqual([{ kek_id: newId }]);
    // Nothing left to do the second time.
    expect((await keys(["rewrap"], { DATABASE_URL: url, KEK_FILE: newKek })).output).toContain("re-wrapped 0 signing key(s) and 0 secret(s)");

    const second = await serve({ DATABASE_URL: url, KEK_FILE: newKek });
    expect((await second.token("VerifyAccessToken", { access_token: token })).claims?.user_id).toBe("rewrapped");
  }, 60_000);

  it("wraps a plaintext key left by an earlier version at start, and keeps signing with it", async () => {
    const url = await freshDatabase();
    expect(await runCli("migrate", { DATABASE_URL: url }).exited).toBe(0);
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    await query(
      url,
      `INSERT INTO signing_keys (kid, algorithm, public_jwk, private_jwk, activates_at) VALUES ($1, 'EdDSA', $2, $3, now() - interval '1 day')`,
      [kid, { ...publicJwk, kid, alg: "EdDSA", use: "sig" }, { ...(await exportJWK(privateKey)), kid, alg: "EdDSA" }],
    );
    await query(url, `INSERT INTO service_secrets (name, secret) VALUES ('refresh_grace_hmac', $1)`, [Buffer.alloc(32, 7)]);
    const replica = await serve({ DATABASE_URL: url });
    const token = (await replica.session("CreateSession", { user_id: "legacy" })).tokens?.access_token ?? "";
    expect(decodeProtectedHeader(token).kid).toBe(kid);
    expect(
      await query(url, `SELECT private_jwk, kek_id IS NOT NULL AS wrapped FROM signing_keys UNION ALL SELECT NULL, kek_id IS NOT NULL FROM service_secrets`),
    ).toEqual([
      { private_jwk: null, wrapped: true },
      { private_jwk: null, wrapped: true },
    ]);
  }, 60_000);
});
