import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

describe("reading and maintaining sessions", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ TOUCH_COALESCE_WINDOW: "5s" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const login = async (user_id: string, extra: Record<string, unknown> = {}) => {
    const response = await t.session("CreateSession", { user_id, ip_address: "198.51.100.1", ...extra });
    return { id: response.session?.session_id ?? "", refreshToken: response.tokens?.refresh_token ?? "" };
  };

  it("GetSession finds a session by id and by a live refresh token, without side effects", async () => {
    const { id, refreshToken } = await login("reader");
    const byId = await t.session("GetSession", { session_id: id });
    expect(byId.session?.session_id).toBe(id);
    const byToken = await t.session("GetSession", { refresh_token: refreshToken });
    expect(byToken.session).toEqual(byId.session);
    // Reading twice by token changes nothing: the token is still live.
    expect((await t.session("GetSession", { refresh_token: refreshToken })).session).toEqual(byId.session);
  });

  it("GetSession answers NOT_FOUND, INVALID_ARGUMENT or UNAUTHENTICATED as the lookup deserves", async () => {
    expect((await failure(t.session("GetSession", { session_id: "00000000-0000-4000-8000-000000000000" }))).errorInfo?.reason).toBe("SESSION_NOT_FOUND");
    expect((await failure(t.session("GetSession", { session_id: "not-a-uuid" }))).codeName).toBe("INVALID_ARGUMENT");
    expect((await failure(t.session("GetSession", {}))).codeName).toBe("INVALID_ARGUMENT");
    const unknown = await failure(t.session("GetSession", { refresh_token: `sa_rt_${"A".repeat(43)}` }));
    expect([unknown.codeName, unknown.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_UNKNOWN"]);
    const garbage = await failure(t.session("GetSession", { refresh_token: "garbage" }));
    expect([garbage.codeName, garbage.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_UNKNOWN"]);
  });

  it("ListSessions pages through a user's sessions newest first, active only unless asked", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      ids.push((await login("lister")).id);
      t.clock.advance(1000);
    }
    await t.session("RevokeSession", { session_id: ids[0] ?? "", reason: "logout" });
    const seen: string[] = [];
    let page_token = "";
    let pages = 0;
    do {
      const page = await t.session("ListSessions", { user_id: "lister", page_size: 2, page_token });
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...page.sessions.map((s) => s.session_id));
      page_token = page.next_page_token;
      pages += 1;
    } while (page_token !== "");
    expect(pages).toBe(3);
    expect(seen).toEqual(ids.slice(1).reverse());
    const all = await t.session("ListSessions", { user_id: "lister", include_inactive: true, page_size: 100 });
    expect(all.sessions.map((s) => s.session_id)).toEqual([...ids].reverse());
    expect(all.sessions.at(-1)).toMatchObject({ state: "SESSION_STATE_REVOKED", revoke_reason: "logout" });
    expect(all.next_page_token).toBe("");
  });

  it("ListSessions refuses a page token from another listing and out-of-range page sizes", async () => {
    await login("lister-2");
    await login("lister-2");
    const first = await t.session("ListSessions", { user_id: "lister-2", page_size: 1 });
    expect(first.next_page_token).not.toBe("");
    const foreign = await failure(t.session("ListSessions", { user_id: "someone-else", page_token: first.next_page_token }));
    expect([foreign.codeName, foreign.errorInfo?.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"]);
    const forged = await failure(t.session("ListSessions", { user_id: "lister-2", page_token: "bm9wZQ" }));
    expect(forged.errorInfo?.reason).toBe("INVALID_PAGE_TOKEN");
    expect((await failure(t.session("ListSessions", { user_id: "lister-2", page_size: 101 }))).codeName).toBe("INVALID_ARGUMENT");
    expect((await failure(t.session("ListSessions", { user_id: "lister-2", page_size: -1 }))).codeName).toBe("INVALID_ARGUMENT");
  });

  it("TouchSession records activity, coalesces touches within the window, and always records a new IP", async () => {
    const { id } = await login("toucher");
    const first = await t.session("TouchSession", { session_id: id });
    expect(first.recorded).toBe(false); // login itself was the last activity, a moment ago
    t.clock.advance(6000);
    const later = await t.session("TouchSession", { session_id: id });
    expect(later.recorded).toBe(true);
    expect(Number(later.session?.last_activity_at?.seconds)).toBe(Math.floor(t.clock.now().getTime() / 1000));
    t.clock.advance(1000);
    expect((await t.session("TouchSession", { session_id: id })).recorded).toBe(false);
    const moved = await t.session("TouchSession", { session_id: id, ip_address: "2001:db8::1" });
    expect(moved.recorded).toBe(true);
    expect(moved.session).toMatchObject({ last_ip_address: "2001:db8::1", ip_address: "198.51.100.1" });
  });

  it("TouchSession refuses revoked and expired sessions", async () => {
    const revoked = await login("toucher-2");
    await t.session("RevokeSession", { session_id: revoked.id });
    const onRevoked = await failure(t.session("TouchSession", { session_id: revoked.id }));
    expect([onRevoked.codeName, onRevoked.errorInfo?.reason]).toEqual(["FAILED_PRECONDITION", "SESSION_REVOKED"]);
    const short = await login("toucher-2", { session_ttl: { seconds: 60 } });
    t.clock.advance(61_000);
    const onExpired = await failure(t.session("TouchSession", { session_id: short.id }));
    expect([onExpired.codeName, onExpired.errorInfo?.reason]).toEqual(["FAILED_PRECONDITION", "SESSION_EXPIRED"]);
    expect((await t.session("GetSession", { session_id: short.id })).session?.state).toBe("SESSION_STATE_EXPIRED");
  });

  it("UpdateSession changes only the fields that are sent", async () => {
    const { id } = await login("updater", { device_name: "old", location: "FR", active_org_id: "org-1" });
    const updated = await t.session("UpdateSession", {
      session_id: id,
      device_name: "new",
      is_trusted: true,
      authentication: { amr: ["hwk"], acr: "aal3" },
      extra_claims: { fields: { tier: { stringValue: "gold" } } },
    });
    expect(updated.session).toMatchObject({ device_name: "new", is_trusted: true, location: "FR", active_org_id: "org-1" });
    expect(updated.session?.authentication).toMatchObject({ amr: ["hwk"], acr: "aal3" });
    expect(updated.session?.extra_claims?.fields?.["tier"]).toMatchObject({ stringValue: "gold" });
    const cleared = await t.session("UpdateSession", { session_id: id, active_org_id: "" });
    expect(cleared.session).toMatchObject({ active_org_id: "", device_name: "new" });
    const reserved = await failure(t.session("UpdateSession", { session_id: id, extra_claims: { fields: { sub: { stringValue: "x" } } } }));
    expect(reserved.errorInfo?.reason).toBe("RESERVED_CLAIM");
  });

  it("RecordProviderAccess keeps each provider once and tracks the last one", async () => {
    const { id } = await login("federated");
    await t.session("RecordProviderAccess", { session_id: id, provider: "google" });
    await t.session("RecordProviderAccess", { session_id: id, provider: "okta:acme" });
    const again = await t.session("RecordProviderAccess", { session_id: id, provider: "google", sync_time: { seconds: 1_700_000_000 } });
    expect(again.session).toMatchObject({ accessed_providers: ["google", "okta:acme"], last_provider: "google" });
    expect(again.session?.last_provider_sync_at?.seconds).toBe("1700000000");
    expect((await failure(t.session("RecordProviderAccess", { session_id: id, provider: "" }))).codeName).toBe("INVALID_ARGUMENT");
  });

  it("erases IP addresses and user agents once the retention has passed", async () => {
    const { id } = await login("retained", { user_agent: "curl/8" });
    t.clock.advance(91 * 86_400_000);
    const result = await t.service.enforceRetention();
    expect(result.erased).toBeGreaterThanOrEqual(1);
    const { session } = await t.session("GetSession", { session_id: id });
    expect(session).toMatchObject({ ip_address: "", last_ip_address: "", user_agent: "", user_id: "retained" });
  });
});
