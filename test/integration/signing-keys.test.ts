import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { kekIdOf, parseKek } from "../../src/crypto/key-encryption.js";
import { failure } from "../support/clients.js";
import { backend, startTestService, type TestService } from "../support/test-service.js";

const SECOND = 1000;
// Defaults: JWKS_MAX_AGE 5m, KEY_REFRESH_INTERVAL 10s, ACCESS_TOKEN_TTL_MAX 1h, ACCESS_TOKEN_LEEWAY 60s.
const STAGING_MS = 5 * 60 * SECOND + 10 * SECOND;
const RETIRE_AFTER_ACTIVATION_MS = 10 * SECOND + 60 * 60 * SECOND + 60 * SECOND;

const millis = (timestamp: { seconds?: string | number | null; nanos?: number | null } | null | undefined) =>
  Number(timestamp?.seconds ?? 0) * 1000 + Math.floor((timestamp?.nanos ?? 0) / 1e6);

describe("signing keys", () => {
  let t: TestService;
  afterEach(async () => {
    await t?.stop();
  });

  const issue = async (user = "keyholder") => (await t.session("CreateSession", { user_id: user })).tokens?.access_token ?? "";
  const kidOf = (token: string) => decodeProtectedHeader(token).kid;
  const verify = (access_token: string) => t.token("VerifyAccessToken", { access_token });
  const reasonFor = async (access_token: string) => (await failure(verify(access_token))).errorInfo?.reason;
  const published = async () => (await t.token("GetJwks", {})).keys.map((key) => key.kid);
  const httpJwks = async () => {
    const response = await fetch(`http://127.0.0.1:${t.service.httpPort}/.well-known/jwks.json`);
    return { cacheControl: response.headers.get("cache-control"), kids: ((await response.json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid) };
  };
  const stages = async () => Object.fromEntries((await t.token("ListSigningKeys", {})).keys.map((key) => [key.kid, key.stage]));
  // An independent verifier: jose alone, reading the HTTP JWKS, no project code.
  const independentlyVerify = async (token: string) => {
    const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${t.service.httpPort}/.well-known/jwks.json`));
    return (await jwtVerify(token, jwks, { issuer: "session-authority", audience: "platform", currentDate: t.clock.now() })).payload;
  };

  it("rotate: publishes the next key first, signs with it after the JWKS max-age, retires the old one once its tokens expired", async () => {
    t = await startTestService();
    const before = await issue();
    const oldKid = kidOf(before) ?? "";

    // 1. Publish: the next key is in the JWKS at once, but the old key still signs.
    const rotatedAt = t.clock.now().getTime();
    const rotation = await t.token("RotateSigningKey", { reason: "scheduled" });
    const next = rotation.next_key;
    expect(next?.stage).toBe("SIGNING_KEY_STAGE_PUBLISHED");
    expect(millis(next?.activates_at)).toBe(rotatedAt + STAGING_MS);
    const newKid = next?.kid ?? "";
    expect(newKid).not.toBe(oldKid);
    expect(await published()).toEqual(expect.arrayContaining([oldKid, newKid]));
    const http = await httpJwks();
    expect(http.kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect(http.cacheControl).toContain("max-age=300");
    expect(Number((await t.token("GetJwks", {})).max_age?.seconds)).toBe(300);
    expect(kidOf(await issue())).toBe(oldKid);
    // One rotation at a time, so a retried call cannot stage two keys.
    const again = await failure(t.token("RotateSigningKey", {}));
    expect([again.codeName, again.errorInfo?.reason]).toEqual(["FAILED_PRECONDITION", "KEY_ROTATION_PENDING"]);

    // 2. Sign: once the staging delay has passed, new tokens carry the new kid;
    // a token signed before the rotation still verifies, here and independently.
    t.clock.advance(STAGING_MS - 1);
    expect(kidOf(await issue())).toBe(oldKid);
    t.clock.advance(1);
    const after = await issue();
    expect(kidOf(after)).toBe(newKid);
    expect((await verify(before)).claims?.user_id).toBe("keyholder");
    expect((await independentlyVerify(before)).sub).toBe("keyholder");
    expect((await independentlyVerify(after)).sub).toBe("keyholder");
    const listed = await t.token("ListSigningKeys", {});
    const old = listed.keys.find((key) => key.kid === oldKid);
    expect(old?.stage).toBe("SIGNING_KEY_STAGE_RETIRING");
    expect(millis(old?.retires_at)).toBe(rotatedAt + STAGING_MS + RETIRE_AFTER_ACTIVATION_MS);
    expect(await stages()).toMatchObject({ [newKid]: "SIGNING_KEY_STAGE_SIGNING" });

    // 3. Retire: when every token the old key signed has expired, it leaves the JWKS.
    t.clock.advance(RETIRE_AFTER_ACTIVATION_MS - 1);
    expect(await published()).toContain(oldKid);
    t.clock.advance(1);
    expect(await published()).toEqual([newKid]);
    expect((await httpJwks()).kids).toEqual([newKid]);
    expect(await stages()).toMatchObject({ [oldKid]: "SIGNING_KEY_STAGE_RETIRED", [newKid]: "SIGNING_KEY_STAGE_SIGNING" });
    expect(await reasonFor(before)).toBe("TOKEN_KEY_UNKNOWN");
    expect((await verify(await issue())).claims?.user_id).toBe("keyholder");
    // And the next rotation can be staged.
    expect((await t.token("RotateSigningKey", {})).next_key?.stage).toBe("SIGNING_KEY_STAGE_PUBLISHED");
  });

  it("revoke: the key leaves the JWKS and its tokens are refused at once, a new key signs, and a retry changes nothing", async () => {
    t = await startTestService();
    const signedByRevoked = await issue();
    const revokedKid = kidOf(signedByRevoked) ?? "";
    // Verified (and so remembered) before the key is revoked.
    expect((await t.token("VerifyAccessToken", { access_token: signedByRevoked })).claims?.user_id).toBeTruthy();
    const revoked = await t.token("RevokeSigningKey", { kid: revokedKid, reason: "key_compromised" });
    expect(revoked.revoked_key?.stage).toBe("SIGNING_KEY_STAGE_REVOKED");
    expect(revoked.revoked_key?.revoke_reason).toBe("key_compromised");
    expect(revoked.signing_kid).not.toBe(revokedKid);
    expect(await published()).toEqual([revoked.signing_kid]);
    expect((await httpJwks()).kids).toEqual([revoked.signing_kid]);
    expect(await reasonFor(signedByRevoked)).toBe("TOKEN_KEY_REVOKED");
    await expect(independentlyVerify(signedByRevoked)).rejects.toThrow();
    const fresh = await issue();
    expect(kidOf(fresh)).toBe(revoked.signing_kid);
    expect((await verify(fresh)).claims?.user_id).toBe("keyholder");
    expect((await independentlyVerify(fresh)).sub).toBe("keyholder");

    const retried = await t.token("RevokeSigningKey", { kid: revokedKid });
    expect(retried.signing_kid).toBe(revoked.signing_kid);
    expect(Number(retried.global_version)).toBe(0);

    const unknown = await failure(t.token("RevokeSigningKey", { kid: "no-such-key" }));
    expect([unknown.codeName, unknown.errorInfo?.reason]).toEqual(["NOT_FOUND", "SIGNING_KEY_NOT_FOUND"]);
    const missing = await failure(t.token("RevokeSigningKey", { kid: "" }));
    expect([missing.codeName, missing.errorInfo?.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_ARGUMENT"]);
  });

  it("revoke during a staged rotation promotes the staged key, and can revoke every token in the same write", async () => {
    t = await startTestService();
    const login = await t.session("CreateSession", { user_id: "breached" });
    const currentKid = kidOf(login.tokens?.access_token ?? "") ?? "";
    const stagedKid = (await t.token("RotateSigningKey", {})).next_key?.kid ?? "";
    const revoked = await t.token("RevokeSigningKey", { kid: currentKid, revoke_all_tokens: true });
    // The staged key has been published all along, so verifiers may know it already.
    expect(revoked.signing_kid).toBe(stagedKid);
    expect(Number(revoked.global_version)).toBe(1);
    expect(kidOf(await issue())).toBe(stagedKid);
    // Refresh tokens are not signed; revoke_all_tokens is what ends them.
    const refresh = await failure(t.token("RefreshTokens", { refresh_token: login.tokens?.refresh_token ?? "" }));
    expect(refresh.errorInfo?.reason).toBe("VERSION_STALE");
  });

  it("keeps private keys encrypted at rest, each under a named KEK, with nothing in plaintext", async () => {
    t = await startTestService();
    await t.token("RotateSigningKey", {});
    const rows = await t.service.database.prisma.signingKey.findMany();
    expect(rows).toHaveLength(2);
    const kekIds = new Set(rows.map((row) => row.kekId));
    expect(kekIds.size).toBe(1);
    for (const row of rows) {
      expect(row.privateJwk).toBeNull();
      const stored = Buffer.from(row.wrappedPrivateKey ?? new Uint8Array()).toString("latin1");
      expect(stored.length).toBeGreaterThan(28);
      expect(stored).not.toContain('"d"');
      expect(stored).not.toContain(row.kid);
    }
    const secrets = await t.service.database.prisma.serviceSecret.findMany();
    expect(secrets.map((secret) => secret.kekId)).toEqual([...kekIds]);
    // Every kid in ListSigningKeys names the same KEK, and never the key itself.
    const listed = await t.token("ListSigningKeys", {});
    expect(new Set(listed.keys.map((key) => key.kek_id))).toEqual(kekIds);
  });

  it.runIf(backend === "pglite")("on the embedded default without KEK_FILE, generates a KEK in the data folder (owner-only) and warns", async () => {
    t = await startTestService();
    const file = path.join(t.dataDir, "kek");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(t.logLines.some((line) => line.includes("KEK_FILE not set"))).toBe(true);
    const kek = parseKek(await readFile(file, "utf8"));
    expect(kek).toBeDefined();
    const rows = await t.service.database.prisma.signingKey.findMany();
    expect(rows.map((row) => row.kekId)).toEqual([kekIdOf(kek ?? Buffer.alloc(0))]);
  });
});
