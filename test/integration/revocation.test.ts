import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

describe("ending sessions", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ SUSPICIOUS_ACTIVITY_THRESHOLD: "3" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const login = async (user_id: string) => {
    const response = await t.session("CreateSession", { user_id });
    return { id: response.session?.session_id ?? "", refreshToken: response.tokens?.refresh_token ?? "" };
  };

  it("RevokeSession keeps the reason, kills the session's refresh token, and is idempotent", async () => {
    const { id, refreshToken } = await login("revokee");
    const revoked = await t.session("RevokeSession", { session_id: id, reason: "logout" });
    expect(revoked.session).toMatchObject({ state: "SESSION_STATE_REVOKED", revoke_reason: "logout" });
    expect(revoked.session?.revoked_at).not.toBeNull();
    const byToken = await failure(t.session("GetSession", { refresh_token: refreshToken }));
    expect([byToken.codeName, byToken.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_REVOKED"]);
    const again = await t.session("RevokeSession", { session_id: id, reason: "admin" });
    expect(again.session).toEqual(revoked.session);
    const missing = await failure(t.session("RevokeSession", { session_id: "00000000-0000-4000-8000-000000000001" }));
    expect([missing.codeName, missing.errorInfo?.reason]).toEqual(["NOT_FOUND", "SESSION_NOT_FOUND"]);
    expect((await failure(t.session("RevokeSession", { session_id: id, reason: "no spaces allowed" }))).codeName).toBe("INVALID_ARGUMENT");
  });

  it("RevokeUserSessions ends every active session of the user except the one named, and counts them", async () => {
    const keep = await login("everywhere");
    const others = [await login("everywhere"), await login("everywhere"), await login("everywhere")];
    const bystander = await login("someone-else");
    const { revoked_count } = await t.session("RevokeUserSessions", { user_id: "everywhere", except_session_id: keep.id, reason: "password_changed" });
    expect(revoked_count).toBe(3);
    const all = await t.session("ListSessions", { user_id: "everywhere", include_inactive: true });
    const byId = new Map(all.sessions.map((s) => [s.session_id, s]));
    expect(byId.get(keep.id)?.state).toBe("SESSION_STATE_ACTIVE");
    for (const other of others) expect(byId.get(other.id)).toMatchObject({ state: "SESSION_STATE_REVOKED", revoke_reason: "password_changed" });
    expect((await t.session("GetSession", { session_id: bystander.id })).session?.state).toBe("SESSION_STATE_ACTIVE");
    expect((await t.session("RevokeUserSessions", { user_id: "everywhere" })).revoked_count).toBe(1);
    expect((await t.session("RevokeUserSessions", { user_id: "everywhere" })).revoked_count).toBe(0);
  });

  it("ReportSuspiciousActivity counts reports and revokes the session at the threshold", async () => {
    const { id } = await login("suspect");
    const first = await t.session("ReportSuspiciousActivity", { session_id: id, reason: "impossible_travel" });
    expect(first).toMatchObject({ revoked: false, session: { suspicious_activity_count: 1 } });
    await t.session("ReportSuspiciousActivity", { session_id: id });
    const third = await t.session("ReportSuspiciousActivity", { session_id: id });
    expect(third).toMatchObject({ revoked: true, session: { suspicious_activity_count: 3, state: "SESSION_STATE_REVOKED", revoke_reason: "suspicious_activity" } });
    const fourth = await t.session("ReportSuspiciousActivity", { session_id: id });
    expect(fourth).toMatchObject({ revoked: false, session: { suspicious_activity_count: 4, revoke_reason: "suspicious_activity" } });
  });

  it("DeleteUserData erases the user's sessions and tokens and nobody else's", async () => {
    const gone = [await login("leaver"), await login("leaver")];
    const stays = await login("stayer");
    const deleted = await t.session("DeleteUserData", { user_id: "leaver" });
    expect(deleted).toEqual({ deleted_session_count: 2, deleted_token_count: 2 });
    for (const session of gone) {
      expect((await failure(t.session("GetSession", { session_id: session.id }))).codeName).toBe("NOT_FOUND");
      expect((await failure(t.session("GetSession", { refresh_token: session.refreshToken }))).errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    }
    expect((await t.session("ListSessions", { user_id: "leaver", include_inactive: true })).sessions).toEqual([]);
    expect((await t.session("GetSession", { session_id: stays.id })).session?.state).toBe("SESSION_STATE_ACTIVE");
    expect(await t.session("DeleteUserData", { user_id: "leaver" })).toEqual({ deleted_session_count: 0, deleted_token_count: 0 });
  });
});
