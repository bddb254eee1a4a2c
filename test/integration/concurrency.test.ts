import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../support/test-service.js";

// On PostgreSQL these calls really overlap (pool of 10); on PGlite they
// serialise, which must give the same answers.
describe("concurrent calls", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ MAX_ACTIVE_SESSIONS_PER_USER: "5", SUSPICIOUS_ACTIVITY_THRESHOLD: "0" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("20 simultaneous logins of one user with a limit of 5 leave exactly 5 active and 15 revoked for session_limit", async () => {
    const created = await Promise.all(Array.from({ length: 20 }, () => t.session("CreateSession", { user_id: "busy-user" })));
    expect(new Set(created.map((r) => r.session?.session_id)).size).toBe(20);
    const all = await t.session("ListSessions", { user_id: "busy-user", include_inactive: true, page_size: 100 });
    const active = all.sessions.filter((s) => s.state === "SESSION_STATE_ACTIVE");
    const revoked = all.sessions.filter((s) => s.state === "SESSION_STATE_REVOKED");
    expect(active).toHaveLength(5);
    expect(revoked).toHaveLength(15);
    for (const session of revoked) expect(session.revoke_reason).toBe("session_limit");
  });

  it("does not count sessions killed by a version bump against the limit", async () => {
    for (let i = 0; i < 5; i += 1) await t.session("CreateSession", { user_id: "bumped-user" });
    await t.token("RevokeUserTokens", { user_id: "bumped-user", reason: "password_changed" });
    for (let i = 0; i < 5; i += 1) await t.session("CreateSession", { user_id: "bumped-user" });
    const all = await t.session("ListSessions", { user_id: "bumped-user", include_inactive: true, page_size: 100 });
    const reasons = all.sessions.map((s) => s.revoke_reason).sort();
    expect(reasons).toEqual(["", "", "", "", "", "password_changed", "password_changed", "password_changed", "password_changed", "password_changed"]);
  });

  it("loses no suspicious-activity report when 25 arrive at once", async () => {
    const id = (await t.session("CreateSession", { user_id: "reported" })).session?.session_id ?? "";
    await Promise.all(Array.from({ length: 25 }, () => t.session("ReportSuspiciousActivity", { session_id: id })));
    expect((await t.session("GetSession", { session_id: id })).session?.suspicious_activity_count).toBe(25);
  });

  it("keeps every identity provider when 12 are recorded at once", async () => {
    const id = (await t.session("CreateSession", { user_id: "federated" })).session?.session_id ?? "";
    const providers = Array.from({ length: 12 }, (_, i) => `idp-${i}`);
    await Promise.all([...providers, ...providers].map((provider) => t.session("RecordProviderAccess", { session_id: id, provider })));
    const session = (await t.session("GetSession", { session_id: id })).session;
    expect([...(session?.accessed_providers ?? [])].sort()).toEqual([...providers].sort());
  });

  it("idempotent logins racing with the same key create one session", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => t.session("CreateSession", { user_id: "retrier", idempotency_key: "same-login" })),
    );
    expect(new Set(results.map((r) => r.session?.session_id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    const list = await t.session("ListSessions", { user_id: "retrier", include_inactive: true });
    expect(list.sessions).toHaveLength(1);
  });
});
