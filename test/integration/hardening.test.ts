import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyMetadata, failure, apiKeysSetting } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

const page = (body: object) => Buffer.from(JSON.stringify(body)).toString("base64url");

// Inputs an independent review found could reach INTERNAL or cross a boundary.
describe("hardening", () => {
  const a = apiKeyMetadata("caller-a-key");
  const b = apiKeyMetadata("caller-b-key");
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ API_KEYS: apiKeysSetting({ "caller-a": "caller-a-key", "caller-b": "caller-b-key" }) });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("refuses a NUL character in extra claims with INVALID_ARGUMENT", async () => {
    const failed = await failure(t.session("CreateSession", { user_id: "nul", extra_claims: { fields: { a: { stringValue: "x\u0000y" } } } }, a));
    expect([failed.codeName, failed.errorInfo?.metadata["field"]]).toEqual(["INVALID_ARGUMENT", "extra_claims"]);
  });

  it("refuses forged page tokens with INVALID_PAGE_TOKEN, never INTERNAL", async () => {
    const listing = await t.session("ListSessions", { user_id: "forger", page_size: 1 }, a);
    expect(listing.next_page_token).toBe("");
    for (const body of [{ q: "x", t: "2026-01-01T00:00:00Z", i: "-".repeat(36) }, { q: "x", t: "-271821-04-20T00:00:00Z", i: "00000000-0000-4000-8000-000000000000" }]) {
      expect((await failure(t.session("ListSessions", { user_id: "forger", page_token: page(body) }, a))).errorInfo?.reason).toBe("INVALID_PAGE_TOKEN");
      expect((await failure(t.token("ListUserTokens", { user_id: "forger", page_token: page(body) }, a))).errorInfo?.reason).toBe("INVALID_PAGE_TOKEN");
    }
  });

  it("verifies the largest access token it can issue", async () => {
    const big = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`claim${i}`, { stringValue: "é".repeat(60) }]));
    const created = await t.session(
      "CreateSession",
      { user_id: "u".repeat(256), active_org_id: "o".repeat(256), extra_claims: { fields: big }, authentication: { amr: Array.from({ length: 16 }, (_, i) => `m${i}`.padEnd(32, "x")), acr: "ü".repeat(256) } },
      a,
    );
    expect((await t.token("VerifyAccessToken", { access_token: created.tokens?.access_token ?? "" }, a)).claims?.session_id).toBe(created.session?.session_id);
  });

  it("answers VERSION_STALE, not reuse, for a spent token of a version-killed family", async () => {
    const login = await t.session("CreateSession", { user_id: "stale-family" }, a);
    await t.token("RefreshTokens", { refresh_token: login.tokens?.refresh_token ?? "" }, a);
    await t.token("RevokeUserTokens", { user_id: "stale-family", reason: "password_changed" }, a);
    const failed = await failure(t.token("RefreshTokens", { refresh_token: login.tokens?.refresh_token ?? "", ip_address: "203.0.113.1" }, a));
    expect(failed.errorInfo?.reason).toBe("VERSION_STALE");
    const session = (await t.session("GetSession", { session_id: login.session?.session_id ?? "" }, a)).session;
    expect(session?.revoke_reason).toBe("password_changed");
  });

  it("does not change a version-killed session", async () => {
    const login = await t.session("CreateSession", { user_id: "killed-update", device_name: "before" }, a);
    await t.token("RevokeUserTokens", { user_id: "killed-update" }, a);
    const id = login.session?.session_id ?? "";
    expect((await failure(t.session("UpdateSession", { session_id: id, device_name: "after" }, a))).errorInfo?.reason).toBe("SESSION_REVOKED");
    expect((await failure(t.session("RecordProviderAccess", { session_id: id, provider: "google" }, a))).errorInfo?.reason).toBe("SESSION_REVOKED");
    expect((await t.session("GetSession", { session_id: id }, a)).session).toMatchObject({ device_name: "before", accessed_providers: [] });
  });

  it("keeps refresh tokens bound to their caller in GetSession and RevokeRefreshToken too", async () => {
    const login = await t.session("CreateSession", { user_id: "bound-everywhere" }, a);
    const token = login.tokens?.refresh_token ?? "";
    expect((await failure(t.session("GetSession", { refresh_token: token }, b))).errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    expect(await t.token("RevokeRefreshToken", { refresh_token: token }, b)).toEqual({ session_id: "" });
    expect((await t.session("GetSession", { refresh_token: token }, a)).session?.state).toBe("SESSION_STATE_ACTIVE");
  });

  it("never hands one caller's idempotent login to another caller", async () => {
    await t.session("CreateSession", { user_id: "shared-user", idempotency_key: "k1" }, a);
    const other = await failure(t.session("CreateSession", { user_id: "shared-user", idempotency_key: "k1" }, b));
    expect([other.codeName, other.errorInfo?.metadata["field"]]).toEqual(["INVALID_ARGUMENT", "idempotency_key"]);
    const again = await t.session("CreateSession", { user_id: "shared-user", idempotency_key: "k1" }, a);
    expect(again.replayed).toBe(true);
    expect((await t.token("RefreshTokens", { refresh_token: again.tokens?.refresh_token ?? "" }, a)).session?.state).toBe("SESSION_STATE_ACTIVE");
  });
});
