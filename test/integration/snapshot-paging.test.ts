import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionVerifier } from "../../clients/ts/src/index.js";
import { failure } from "../support/clients.js";
import { seedRevokedSessions } from "../support/seed-revocations.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { watch } from "../support/watch.js";

const REVOKED = 100_000;

// 100,000 revoked sessions with 256-character user and organisation ids are
// ~60 MB as one message: far past the 4 MiB every gRPC client accepts by default.
describe("GetRevocationSnapshot with 100,000 sessions revoked in the window", () => {
  let t: TestService;
  let victim: { sessionId: string; accessToken: string };
  beforeAll(async () => {
    t = await startTestService({ WATCH_HEARTBEAT_INTERVAL: "300ms" });
    const created = await t.session("CreateSession", { user_id: "paged-victim" });
    victim = { sessionId: created.session?.session_id ?? "", accessToken: created.tokens?.access_token ?? "" };
    await seedRevokedSessions(t.service.database.prisma, REVOKED - 1);
    // Revoked after the seeded ones, so it sits on the last page.
    t.clock.advance(60_000);
    await t.session("RevokeSession", { session_id: victim.sessionId, reason: "logout" });
  }, 300_000);
  afterAll(async () => {
    await t?.stop();
  });

  it("comes in pages under the default limits that hold every revocation once, all with the first page's cursor", async () => {
    const first = await t.token("GetRevocationSnapshot", {});
    expect(first.revoked_sessions.length + first.user_versions.length).toBe(1_000);
    expect(first.next_page_token).not.toBe("");

    const ids: string[] = [];
    let late = "";
    let page = await t.token("GetRevocationSnapshot", { page_size: 2_000 });
    const cursor = page.cursor;
    for (let pages = 1; ; pages += 1) {
      expect(page.cursor).toBe(cursor);
      expect(page.revoked_sessions.length).toBeLessThanOrEqual(2_000);
      ids.push(...page.revoked_sessions.map((session) => session.session_id));
      if (pages === 1) {
        // A revocation while the pages are read: the feed from the first page's cursor brings it.
        const created = await t.session("CreateSession", { user_id: "paged-late" });
        late = created.session?.session_id ?? "";
        await t.session("RevokeSession", { session_id: late, reason: "logout" });
      }
      if (page.next_page_token === "") break;
      page = await t.token("GetRevocationSnapshot", { page_size: 2_000, page_token: page.next_page_token });
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => id !== late)).toHaveLength(REVOKED);
    expect(ids).toContain(victim.sessionId);
    const feed = watch(t.tokens, { cursor });
    await feed.until(() => feed.events.some((event) => event.session_id === late && event.kind === "REVOCATION_EVENT_KIND_SESSION_REVOKED"));
    feed.cancel();
  }, 300_000);

  it("lets an embedded verifier with default gRPC limits start, and it refuses a token of one of those sessions", async () => {
    const verifier = await SessionVerifier.start({
      target: `127.0.0.1:${t.service.grpcPort}`,
      jwksUrl: `http://127.0.0.1:${t.service.httpPort}/.well-known/jwks.json`,
    });
    try {
      expect(await verifier.verify(victim.accessToken)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });
    } finally {
      verifier.close();
    }
    expect((await failure(t.token("VerifyAccessToken", { access_token: victim.accessToken }))).errorInfo?.reason).toBe("TOKEN_REVOKED");
  }, 300_000);

  it("refuses a page size past the maximum and a page token not issued for the request", async () => {
    const tooBig = await failure(t.token("GetRevocationSnapshot", { page_size: 2_001 }));
    expect([tooBig.codeName, tooBig.errorInfo?.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_ARGUMENT"]);
    const forged = await failure(t.token("GetRevocationSnapshot", { page_token: "bm90LWEtdG9rZW4" }));
    expect([forged.codeName, forged.errorInfo?.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"]);
    const { next_page_token } = await t.token("GetRevocationSnapshot", { page_size: 10 });
    const otherFilter = await failure(t.token("GetRevocationSnapshot", { org_ids: ["org-a"], page_token: next_page_token }));
    expect([otherFilter.codeName, otherFilter.errorInfo?.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"]);
  });
});
