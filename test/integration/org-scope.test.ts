import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyMetadata, apiKeysSetting, failure } from "../support/clients.js";
import { writePolicyFile } from "../support/policy-file.js";
import { startTestService, type TestService } from "../support/test-service.js";

describe("organisation-scoped callers", () => {
  let t: TestService;
  const keys = { "login-a": "login-service-a-key-42", admin: "admin-key-for-org-tests" };
  const scoped = apiKeyMetadata(keys["login-a"]);
  const admin = apiKeyMetadata(keys.admin);
  beforeAll(async () => {
    // The sessions here are created by admin; login-a may reach other callers'
    // sessions, so that only its organisations limit what it sees.
    const anyCaller = ["GetSession", "ListSessions", "TouchSession", "UpdateSession", "RevokeSession", "RevokeUserSessions", "ReportSuspiciousActivity"]
      .map((method) => `sessionauthority.v1.SessionService/${method}:any_caller`)
      .concat(["ListUserTokens", "RevokeToken"].map((method) => `sessionauthority.v1.TokenService/${method}:any_caller`));
    const policy = await writePolicyFile({ "login-a": ["*", ...anyCaller], admin: ["*"] }, { orgs: { "login-a": ["org-a"] } });
    t = await startTestService({ API_KEYS: apiKeysSetting(keys), POLICY_FILE: policy });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const denied = async (call: Promise<unknown>) => {
    const failed = await failure(call);
    return [failed.codeName, failed.errorInfo?.reason];
  };
  const sessionIn = async (user: string, org: string) =>
    (await t.session("CreateSession", { user_id: user, active_org_id: org }, admin)).session?.session_id ?? "";
  const stateOf = async (session_id: string) => (await t.session("GetSession", { session_id }, admin)).session?.state;

  it("creates sessions only in the caller's organisations", async () => {
    expect(await denied(t.session("CreateSession", { user_id: "scoped-u1", active_org_id: "org-b" }, scoped))).toEqual(["PERMISSION_DENIED", "ORG_NOT_ALLOWED"]);
    expect(await denied(t.session("CreateSession", { user_id: "scoped-u1" }, scoped))).toEqual(["PERMISSION_DENIED", "ORG_NOT_ALLOWED"]);
    expect((await t.session("CreateSession", { user_id: "scoped-u1", active_org_id: "org-a" }, scoped)).session?.active_org_id).toBe("org-a");
  });

  it("cannot see, change or end another organisation's sessions: to it they do not exist", async () => {
    const inA = await sessionIn("scoped-u2", "org-a");
    const inB = await sessionIn("scoped-u2", "org-b");
    const listed = await t.session("ListSessions", { user_id: "scoped-u2" }, scoped);
    expect(listed.sessions.map((session) => session.session_id)).toEqual([inA]);
    expect((await t.session("ListSessions", { user_id: "scoped-u2" }, admin)).sessions).toHaveLength(2);
    const notFound = ["NOT_FOUND", "SESSION_NOT_FOUND"];
    expect(await denied(t.session("GetSession", { session_id: inB }, scoped))).toEqual(notFound);
    expect(await denied(t.session("RevokeSession", { session_id: inB, reason: "logout" }, scoped))).toEqual(notFound);
    expect(await denied(t.session("TouchSession", { session_id: inB }, scoped))).toEqual(notFound);
    expect(await denied(t.session("ReportSuspiciousActivity", { session_id: inB }, scoped))).toEqual(notFound);
    expect(await denied(t.session("UpdateSession", { session_id: inB, device_name: "x" }, scoped))).toEqual(notFound);
    expect(await denied(t.session("UpdateSession", { session_id: inA, active_org_id: "org-b" }, scoped))).toEqual(["PERMISSION_DENIED", "ORG_NOT_ALLOWED"]);
    expect(await stateOf(inB)).toBe("SESSION_STATE_ACTIVE");
    expect((await t.session("GetSession", { session_id: inA }, scoped)).session?.session_id).toBe(inA);
  });

  it("ends only its organisations' sessions of a user, and may not make user-wide changes", async () => {
    const inA = await sessionIn("scoped-u3", "org-a");
    const inB = await sessionIn("scoped-u3", "org-b");
    expect((await t.session("RevokeUserSessions", { user_id: "scoped-u3", reason: "logout_everywhere" }, scoped)).revoked_count).toBe(1);
    expect(await stateOf(inA)).toBe("SESSION_STATE_REVOKED");
    expect(await stateOf(inB)).toBe("SESSION_STATE_ACTIVE");
    expect(await denied(t.token("RevokeUserTokens", { user_id: "scoped-u3", reason: "password_changed" }, scoped))).toEqual(["PERMISSION_DENIED", "ORG_NOT_ALLOWED"]);
    expect(await stateOf(inB)).toBe("SESSION_STATE_ACTIVE");
  });

  it("lists and revokes refresh tokens only of its organisations' sessions", async () => {
    const inA = await sessionIn("scoped-u4", "org-a");
    const inB = await sessionIn("scoped-u4", "org-b");
    const scopedList = await t.token("ListUserTokens", { user_id: "scoped-u4" }, scoped);
    expect(scopedList.tokens.map((token) => token.session_id)).toEqual([inA]);
    const all = await t.token("ListUserTokens", { user_id: "scoped-u4" }, admin);
    expect(all.tokens.map((token) => token.session_id).sort()).toEqual([inA, inB].sort());
    const tokenOfB = all.tokens.find((token) => token.session_id === inB)?.token_id ?? "";
    expect(await denied(t.token("RevokeToken", { token_id: tokenOfB, reason: "logout" }, scoped))).toEqual(["NOT_FOUND", "TOKEN_NOT_FOUND"]);
    expect(await stateOf(inB)).toBe("SESSION_STATE_ACTIVE");
    const tokenOfA = scopedList.tokens[0]?.token_id ?? "";
    expect((await t.token("RevokeToken", { token_id: tokenOfA, reason: "logout" }, scoped)).session_id).toBe(inA);
    expect(await stateOf(inA)).toBe("SESSION_STATE_REVOKED");
  });
});
