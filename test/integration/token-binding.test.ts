import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writePolicyFile } from "../support/policy-file.js";
import { apiKeyMetadata, failure, apiKeysSetting } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";


describe("refresh tokens bound to their caller, user and organisation", () => {
  const web = apiKeyMetadata("web-key");
  const mobile = apiKeyMetadata("mobile-key");
  let t: TestService;
  beforeAll(async () => {
    const policyFile = await writePolicyFile({
          web: ["sessionauthority.v1.SessionService/*", "sessionauthority.v1.TokenService/*"],
          mobile: ["sessionauthority.v1.SessionService/CreateSession", "sessionauthority.v1.TokenService/RefreshTokens"],
        });
    t = await startTestService({ API_KEYS: apiKeysSetting({ web: "web-key", mobile: "mobile-key" }), POLICY_FILE: policyFile });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const login = async (user_id: string, active_org_id = "org-a", metadata = web) => {
    const response = await t.session("CreateSession", { user_id, active_org_id }, metadata);
    return { id: response.session?.session_id ?? "", refreshToken: response.tokens?.refresh_token ?? "" };
  };

  it("answers a token presented by another caller exactly like an unknown one, and leaves the session alone", async () => {
    const { id, refreshToken } = await login("bound");
    const foreign = await failure(t.token("RefreshTokens", { refresh_token: refreshToken }, mobile));
    const unknown = await failure(t.token("RefreshTokens", { refresh_token: `sa_rt_${"D".repeat(43)}` }, mobile));
    expect([foreign.codeName, foreign.details, foreign.errorInfo]).toEqual([unknown.codeName, unknown.details, unknown.errorInfo]);
    expect(foreign.details).not.toContain(id);
    expect(t.logLines.some((line) => line.includes("presented by a caller other than"))).toBe(true);
    expect((await t.token("RefreshTokens", { refresh_token: refreshToken }, web)).session?.state).toBe("SESSION_STATE_ACTIVE");
  });

  it("answers a token for another expected user or organisation like an unknown one", async () => {
    const { refreshToken } = await login("alice", "org-a");
    const wrongUser = await failure(t.token("RefreshTokens", { refresh_token: refreshToken, expected_user_id: "mallory" }, web));
    expect(wrongUser.errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    const wrongOrg = await failure(t.token("RefreshTokens", { refresh_token: refreshToken, expected_org_id: "org-b" }, web));
    expect(wrongOrg.errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    const right = await t.token("RefreshTokens", { refresh_token: refreshToken, expected_user_id: "alice", expected_org_id: "org-a" }, web);
    expect(right.session?.user_id).toBe("alice");
  });

  it("switches the organisation on rotation only for callers whose policy allows it", async () => {
    const { refreshToken } = await login("switcher", "org-a");
    const switched = await t.token("RefreshTokens", { refresh_token: refreshToken, active_org_id: "org-b" }, web);
    expect(switched.session?.active_org_id).toBe("org-b");
    expect(decodeJwt(switched.tokens?.access_token ?? "")["org"]).toBe("org-b");
    const viaMobile = await login("switcher", "org-a", mobile);
    const denied = await failure(t.token("RefreshTokens", { refresh_token: viaMobile.refreshToken, active_org_id: "org-b" }, mobile));
    expect([denied.codeName, denied.errorInfo?.reason]).toEqual(["PERMISSION_DENIED", "CALLER_NOT_ALLOWED"]);
  });

  it("RevokeUserTokens with keep_session_id keeps that session alive with a new pair, in one call", async () => {
    const kept = await login("changer");
    const other = await login("changer");
    const result = await t.token("RevokeUserTokens", { user_id: "changer", reason: "password_changed", keep_session_id: kept.id }, web);
    expect(result.token_version).toBe("1");
    expect(result.session).toMatchObject({ session_id: kept.id, state: "SESSION_STATE_ACTIVE" });
    expect(decodeJwt(result.tokens?.access_token ?? "")["tv"]).toBe(1);
    expect((await t.token("VerifyAccessToken", { access_token: result.tokens?.access_token ?? "" }, web)).claims?.token_version).toBe("1");
    expect((await t.token("RefreshTokens", { refresh_token: result.tokens?.refresh_token ?? "" }, web)).session?.session_id).toBe(kept.id);
    expect((await failure(t.token("RefreshTokens", { refresh_token: kept.refreshToken }, web))).errorInfo?.reason).toBe("TOKEN_REVOKED");
    expect((await failure(t.token("RefreshTokens", { refresh_token: other.refreshToken }, web))).errorInfo?.reason).toBe("VERSION_STALE");
    const list = await t.session("ListSessions", { user_id: "changer" }, web);
    expect(list.sessions.map((s) => s.session_id)).toEqual([kept.id]);
  });

  it("ListUserTokens shows live tokens as metadata only, and RevokeToken ends one", async () => {
    const a = await login("lister");
    t.clock.advance(1000);
    const b = await login("lister");
    await t.token("RefreshTokens", { refresh_token: b.refreshToken }, web);
    const first = await t.token("ListUserTokens", { user_id: "lister", page_size: 1 }, web);
    expect(first.tokens).toHaveLength(1);
    const second = await t.token("ListUserTokens", { user_id: "lister", page_size: 1, page_token: first.next_page_token }, web);
    const tokens = [...first.tokens, ...second.tokens];
    expect(second.next_page_token).toBe("");
    expect(tokens.map((token) => token.session_id)).toEqual([b.id, a.id]);
    expect(tokens[0]?.last_rotated_at).not.toBeNull();
    expect(tokens[1]?.last_rotated_at).toBeNull();
    expect(JSON.stringify(tokens)).not.toMatch(/sa_rt_/);
    const revoked = await t.token("RevokeToken", { token_id: tokens[1]?.token_id ?? "", reason: "admin" }, web);
    expect(revoked.session_id).toBe(a.id);
    expect((await t.token("ListUserTokens", { user_id: "lister" }, web)).tokens.map((token) => token.session_id)).toEqual([b.id]);
    const missing = await failure(t.token("RevokeToken", { token_id: "00000000-0000-4000-8000-000000000000" }, web));
    expect([missing.codeName, missing.errorInfo?.reason]).toEqual(["NOT_FOUND", "TOKEN_NOT_FOUND"]);
  });

  it("keeps ended families for the retention so replays stay reuse, then deletes them", async () => {
    const ended = await login("cleaned");
    const next = await t.token("RefreshTokens", { refresh_token: ended.refreshToken }, web);
    await t.session("RevokeSession", { session_id: ended.id, reason: "logout" }, web);
    const live = await login("cleaned");
    await t.service.enforceRetention();
    expect((await t.session("GetSession", { session_id: ended.id }, web)).session?.state).toBe("SESSION_STATE_REVOKED");
    t.clock.advance(31 * 86_400_000);
    const { deleted } = await t.service.enforceRetention();
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect((await failure(t.session("GetSession", { session_id: ended.id }, web))).codeName).toBe("NOT_FOUND");
    expect((await failure(t.token("RefreshTokens", { refresh_token: next.tokens?.refresh_token ?? "" }, web))).errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    expect((await t.session("GetSession", { session_id: live.id }, web)).session?.state).toBe("SESSION_STATE_ACTIVE");
  });
});
