import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyMetadata, apiKeysSetting, failure } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("access tokens", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const issue = async () => (await t.session("CreateSession", { user_id: "reader" })).tokens?.access_token ?? "";
  const reasonFor = async (access_token: string) => (await failure(t.token("VerifyAccessToken", { access_token }))).errorInfo?.reason;

  it("verify with an independent verifier reading the HTTP JWKS", async () => {
    const token = await issue();
    const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${t.service.httpPort}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, jwks, { issuer: "session-authority", audience: "platform", currentDate: t.clock.now() });
    expect(payload.sub).toBe("reader");
  });

  it("are refused with a distinct reason for each way they can be wrong", async () => {
    const token = await issue();
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = decodeJwt(token);
    const tampered = `${header}.${b64({ ...claims, sub: "admin" })}.${signature}`;
    expect(await reasonFor(tampered)).toBe("TOKEN_SIGNATURE_INVALID");
    const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${payload}.`;
    expect(await reasonFor(unsigned)).toBe("TOKEN_ALGORITHM_REFUSED");
    const wrongKid = `${b64({ ...decodeProtectedHeader(token), kid: "not-a-published-key" })}.${payload}.${signature}`;
    expect(await reasonFor(wrongKid)).toBe("TOKEN_KEY_UNKNOWN");
    expect(await reasonFor("not.a.jwt")).toBe("TOKEN_INVALID");
    expect(await reasonFor("garbage")).toBe("TOKEN_INVALID");
  });

  it("once verified, are still checked for revocation, key and time on every later call", async () => {
    const created = await t.session("CreateSession", { user_id: "verified-twice" });
    const token = created.tokens?.access_token ?? "";
    const first = await t.token("VerifyAccessToken", { access_token: token });
    expect((await t.token("VerifyAccessToken", { access_token: token })).claims).toEqual(first.claims);
    // A different token that shares the signature is not the token that was verified.
    const [header, , signature] = token.split(".") as [string, string, string];
    expect(await reasonFor(`${header}.${b64({ ...decodeJwt(token), sub: "admin" })}.${signature}`)).toBe("TOKEN_SIGNATURE_INVALID");
    await t.session("RevokeSession", { session_id: created.session?.session_id ?? "", reason: "logout" });
    expect(await reasonFor(token)).toBe("TOKEN_REVOKED");

    const later = await issue();
    expect((await t.token("VerifyAccessToken", { access_token: later })).claims?.user_id).toBe("reader");
    t.clock.advance(-5 * 60_000);
    expect(await reasonFor(later)).toBe("TOKEN_ISSUED_IN_FUTURE");
    t.clock.advance(5 * 60_000 + 11 * 60_000);
    expect(await reasonFor(later)).toBe("TOKEN_EXPIRED");
    t.clock.advance(-11 * 60_000);
  });

  it("are refused once expired beyond the leeway, and when issued in the future", async () => {
    const token = await issue();
    t.clock.advance(10 * 60_000 + 30_000); // past exp, inside the 60 s leeway
    expect((await t.token("VerifyAccessToken", { access_token: token })).claims?.user_id).toBe("reader");
    t.clock.advance(60_000);
    expect(await reasonFor(token)).toBe("TOKEN_EXPIRED");
    t.clock.advance(5 * 60_000);
    const fromTheFuture = await issue();
    t.clock.advance(-5 * 60_000);
    expect(await reasonFor(fromTheFuture)).toBe("TOKEN_ISSUED_IN_FUTURE");
    t.clock.advance(5 * 60_000);
  });

  it("name the caller that created the session in RFC 9068's client_id, after refreshes and whoever verifies", async () => {
    const loginKey = "login-service-key-c1d9";
    const gatewayKey = "api-gateway-key-8e2b";
    const keyed = await startTestService({ API_KEYS: apiKeysSetting({ "login-service": loginKey, "api-gateway": gatewayKey }) });
    try {
      const created = await keyed.session("CreateSession", { user_id: "client-id-user" }, apiKeyMetadata(loginKey));
      const first = created.tokens?.access_token ?? "";
      expect(decodeProtectedHeader(first).typ).toBe("at+jwt");
      expect(decodeJwt(first)["client_id"]).toBe("login-service");
      const refreshed = await keyed.token("RefreshTokens", { refresh_token: created.tokens?.refresh_token ?? "" }, apiKeyMetadata(loginKey));
      expect(decodeJwt(refreshed.tokens?.access_token ?? "")["client_id"]).toBe("login-service");
      const verified = await keyed.token("VerifyAccessToken", { access_token: refreshed.tokens?.access_token ?? "" }, apiKeyMetadata(gatewayKey));
      expect(verified.claims).toMatchObject({ user_id: "client-id-user", client_id: "login-service" });
      // A reserved name is the server's alone, so it is never an extra claim either.
      expect(verified.claims?.extra_claims?.fields ?? {}).not.toHaveProperty("client_id");
    } finally {
      await keyed.stop();
    }
  });

  for (const algorithm of ["ES256", "RS256"] as const) {
    it(`can be signed with ${algorithm} instead of EdDSA`, async () => {
      const other = await startTestService({ SIGNING_ALGORITHM: algorithm });
      try {
        const token = (await other.session("CreateSession", { user_id: "alg" })).tokens?.access_token ?? "";
        expect(decodeProtectedHeader(token).alg).toBe(algorithm);
        const jwks = await other.token("GetJwks", {});
        expect(jwks.keys.map((key) => [key.alg, key.kty])).toEqual([[algorithm, algorithm === "ES256" ? "EC" : "RSA"]]);
        expect((await other.token("VerifyAccessToken", { access_token: token })).claims?.user_id).toBe("alg");
      } finally {
        await other.stop();
      }
    });
  }
});
