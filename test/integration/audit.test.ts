import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyMetadata, apiKeysSetting, failure, unaryCaller, type UnaryCaller } from "../support/clients.js";
import { writePolicyFile } from "../support/policy-file.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { waitUntil } from "../support/wait.js";
import { services } from "../../src/grpc/proto.js";
import type { AuditServiceDefinition } from "../../src/generated/proto/types/sessionauthority/v1/AuditService.js";

const DAY = 86_400_000;

describe("the audit log", () => {
  let t: TestService;
  let audit: UnaryCaller<AuditServiceDefinition>;
  let closeAudit: () => void;
  const keys = {
    operator: "operator-key-for-audit-01",
    "login-only": "login-only-key-for-audit",
    "org-a-admin": "org-a-admin-key-for-audit",
    "wildcard-only": "wildcard-only-key-for-audit",
  };
  const operator = apiKeyMetadata(keys.operator);
  const loginOnly = apiKeyMetadata(keys["login-only"]);
  const orgAdmin = apiKeyMetadata(keys["org-a-admin"]);

  beforeAll(async () => {
    const policy = await writePolicyFile(
      {
        operator: [
          "*",
          "sessionauthority.v1.TokenService/RevokeAllTokens",
          "sessionauthority.v1.TokenService/RotateSigningKey",
          "sessionauthority.v1.TokenService/RevokeSigningKey",
          "sessionauthority.v1.SessionService/DeleteUserData",
          "sessionauthority.v1.AuditService/ListAuditEvents",
        ],
        "login-only": ["sessionauthority.v1.SessionService/CreateSession"],
        "org-a-admin": ["*", "sessionauthority.v1.AuditService/ListAuditEvents"],
        "wildcard-only": ["*"],
      },
      { orgs: { "org-a-admin": ["org-a"] } },
    );
    t = await startTestService({
      API_KEYS: apiKeysSetting(keys),
      POLICY_FILE: policy,
      // A second presentation of a spent token is reuse at once.
      REFRESH_GRACE_WINDOW: "0s",
      REFRESH_BURST_WINDOW: "0s",
      ENDED_SESSION_RETENTION: "1d",
      EVENT_RETENTION: "1d",
      AUDIT_RETENTION: "30d",
    });
    const client = new services.sessionauthority.v1.AuditService(`127.0.0.1:${t.service.grpcPort}`, grpc.credentials.createInsecure());
    audit = unaryCaller(client, services.sessionauthority.v1.AuditService.service);
    closeAudit = () => client.close();
  });
  afterAll(async () => {
    closeAudit?.();
    await t?.stop();
  });

  const entries = async (request: Parameters<typeof audit<"ListAuditEvents">>[1]) => (await audit("ListAuditEvents", request, operator)).events;

  it("records who revoked what, when and why: sessions, reuse, user and global versions, data deletion, keys", async () => {
    const started = new Date(Date.now() - 1_000);
    const first = await t.session("CreateSession", { user_id: "audited-user", active_org_id: "org-a" }, operator);
    await t.session("RevokeSession", { session_id: first.session?.session_id ?? "", reason: "logout" }, operator);
    const second = await t.session("CreateSession", { user_id: "audited-user", active_org_id: "org-b" }, operator);
    await t.token("RefreshTokens", { refresh_token: second.tokens?.refresh_token ?? "" }, operator);
    await failure(t.token("RefreshTokens", { refresh_token: second.tokens?.refresh_token ?? "" }, operator));
    const bumped = await t.token("RevokeUserTokens", { user_id: "audited-user", reason: "password_changed" }, operator);
    await t.token("RevokeAllTokens", { reason: "breach_drill" }, operator);
    const rotated = await t.token("RotateSigningKey", { reason: "scheduled" }, operator);
    const staged = rotated.keys.find((key) => key.stage === "SIGNING_KEY_STAGE_PUBLISHED")?.kid ?? "";
    await t.token("RevokeSigningKey", { kid: staged, reason: "compromised_in_drill" }, operator);
    await t.session("DeleteUserData", { user_id: "audited-user" }, operator);

    const forUser = await entries({ user_id: "audited-user" });
    const facts = forUser.map((entry) => [entry.action, entry.actor, entry.reason]);
    expect(facts).toEqual(
      expect.arrayContaining([
        ["session_revoked", "operator", "logout"],
        ["token_reuse", "operator", "token_reuse"],
        ["user_version", "operator", "password_changed"],
        ["user_data_deleted", "operator", expect.any(String)],
      ]),
    );
    expect(facts).toContainEqual(["session_revoked", "operator", "token_reuse"]);
    const revokedFirst = forUser.find((entry) => entry.action === "session_revoked" && entry.reason === "logout");
    expect(revokedFirst).toMatchObject({ session_id: first.session?.session_id, org_id: "org-a" });
    expect(new Date(Number(revokedFirst?.occurred_at?.seconds) * 1000).getTime()).toBeGreaterThanOrEqual(Math.floor(started.getTime() / 1000) * 1000);
    expect(forUser.find((entry) => entry.action === "user_version")?.version).toBe(String(bumped.token_version ?? "1"));

    const keyFacts = (await entries({ actions: ["signing_key_published", "signing_key_revoked", "global_version"] })).map((entry) => [entry.action, entry.reason, entry.key_id]);
    expect(keyFacts).toEqual(
      expect.arrayContaining([
        ["signing_key_published", "scheduled", staged],
        ["signing_key_revoked", "compromised_in_drill", staged],
        ["global_version", "breach_drill", ""],
      ]),
    );
  });

  it("records refused calls with the caller, the RPC and the address, identical ones counted once", async () => {
    expect((await failure(t.session("ListSessions", { user_id: "x" }, loginOnly))).errorInfo?.reason).toBe("CALLER_NOT_ALLOWED");
    const stolen = apiKeyMetadata("stolen-or-mistyped-key-99");
    await Promise.all(Array.from({ length: 3 }, () => failure(t.session("GetSession", { session_id: "00000000-0000-4000-8000-000000000000" }, stolen))));
    expect((await failure(t.session("CreateSession", { user_id: "x", active_org_id: "org-b" }, orgAdmin))).errorInfo?.reason).toBe("ORG_NOT_ALLOWED");

    // Identical refusals within one flush share an entry; a flush may fall between them.
    const total = (entries: Awaited<ReturnType<typeof audit<"ListAuditEvents">>>["events"], reason: string) =>
      entries.filter((entry) => entry.reason === reason).reduce((sum, entry) => sum + entry.count, 0);
    let denials: Awaited<ReturnType<typeof entries>> = [];
    await waitUntil(async () => {
      denials = await entries({ actions: ["call_denied"] });
      return total(denials, "CALLER_NOT_ALLOWED") === 1 && total(denials, "CALLER_UNAUTHENTICATED") === 3 && total(denials, "ORG_NOT_ALLOWED") === 1;
    });
    const byReason = Object.fromEntries(denials.map((entry) => [entry.reason, entry]));
    expect(byReason["CALLER_NOT_ALLOWED"]).toMatchObject({ actor: "login-only", method: "sessionauthority.v1.SessionService/ListSessions", count: 1 });
    expect(byReason["CALLER_NOT_ALLOWED"]?.peer).toMatch(/127\.0\.0\.1/);
    expect(byReason["CALLER_UNAUTHENTICATED"]).toMatchObject({ actor: "unauthenticated", method: "sessionauthority.v1.SessionService/GetSession" });
    // Three refusals sent at once, at most two entries (three only if two flushes, a second apart, fell between them).
    expect(denials.filter((entry) => entry.reason === "CALLER_UNAUTHENTICATED").length).toBeLessThanOrEqual(2);
    expect(byReason["ORG_NOT_ALLOWED"]).toMatchObject({ actor: "org-a-admin", method: "sessionauthority.v1.SessionService/CreateSession" });
    // The refused key itself is nowhere in the log.
    expect(JSON.stringify(denials)).not.toContain("stolen-or-mistyped-key-99");
  });

  it("filters by actor, pages newest first, refuses a foreign page token, and shows scoped callers only their organisations", async () => {
    const mine = await entries({ actor: "operator" });
    expect(mine.length).toBeGreaterThan(3);
    expect(mine.every((entry) => entry.actor === "operator")).toBe(true);
    const ids = mine.map((entry) => BigInt(entry.id));
    expect([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(ids);

    const page1 = await audit("ListAuditEvents", { actor: "operator", page_size: 2 }, operator);
    const page2 = await audit("ListAuditEvents", { actor: "operator", page_size: 2, page_token: page1.next_page_token }, operator);
    expect([...page1.events, ...page2.events].map((entry) => entry.id)).toEqual(mine.slice(0, 4).map((entry) => entry.id));
    const foreign = await failure(audit("ListAuditEvents", { actor: "someone-else", page_token: page1.next_page_token }, operator));
    expect(foreign.errorInfo?.reason).toBe("INVALID_PAGE_TOKEN");
    expect((await failure(audit("ListAuditEvents", { page_size: 501 }, operator))).errorInfo?.reason).toBe("INVALID_ARGUMENT");

    // The log is read only by callers named for it: "*" does not reach it.
    const wildcard = await failure(audit("ListAuditEvents", {}, apiKeyMetadata(keys["wildcard-only"])));
    expect([wildcard.codeName, wildcard.errorInfo?.reason]).toEqual(["PERMISSION_DENIED", "CALLER_NOT_ALLOWED"]);

    const scoped = await audit("ListAuditEvents", {}, orgAdmin);
    expect(scoped.events.length).toBeGreaterThan(0);
    expect(scoped.events.every((entry) => entry.org_id === "org-a")).toBe(true);
  });

  it("outlives the cleanup of the sessions and events it describes, and goes after its own retention", async () => {
    const ended = await t.session("CreateSession", { user_id: "cleaned-up-user" }, operator);
    const sessionId = ended.session?.session_id ?? "";
    await t.session("RevokeSession", { session_id: sessionId, reason: "logout" }, operator);
    const before = await entries({});
    t.clock.advance(2 * DAY);
    const swept = await t.service.enforceRetention();
    expect(swept.deleted).toBeGreaterThan(0);
    expect(swept.events).toBeGreaterThan(0);
    expect(swept.audit).toBe(0);
    expect((await failure(t.session("GetSession", { session_id: sessionId }, operator))).errorInfo?.reason).toBe("SESSION_NOT_FOUND");
    expect((await entries({ session_id: sessionId })).map((entry) => [entry.action, entry.reason])).toEqual([["session_revoked", "logout"]]);
    expect((await entries({})).map((entry) => entry.id)).toEqual(before.map((entry) => entry.id));

    t.clock.advance(30 * DAY);
    expect((await t.service.enforceRetention()).audit).toBeGreaterThan(0);
    expect(await entries({})).toEqual([]);
  });
});
