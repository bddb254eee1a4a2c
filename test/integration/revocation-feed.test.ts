import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyMetadata, apiKeysSetting, failure } from "../support/clients.js";
import { writePolicyFile } from "../support/policy-file.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { watch } from "../support/watch.js";
import type { RevocationEventKind } from "../../src/generated/proto/types/sessionauthority/v1/RevocationEventKind.js";

const KIND = (name: string) => `REVOCATION_EVENT_KIND_${name}` as RevocationEventKind;
const DAY = 86_400_000;

describe("the revocation feed", () => {
  let t: TestService;
  const keys = { admin: "admin-key-0123456789", "rs-a": "resource-server-a-key", "login-a": "login-a-key-0123" };
  const admin = apiKeyMetadata(keys.admin);
  const rsA = apiKeyMetadata(keys["rs-a"]);
  beforeAll(async () => {
    const policy = await writePolicyFile(
      {
        admin: [
          "*",
          "sessionauthority.v1.TokenService/RevokeAllTokens",
          "sessionauthority.v1.TokenService/RevokeSigningKey",
          "sessionauthority.v1.SessionService/DeleteUserData",
        ],
        "rs-a": ["sessionauthority.v1.TokenService/*"],
        "login-a": ["*"],
      },
      { orgs: { "rs-a": ["org-a"], "login-a": ["org-a"] } },
    );
    t = await startTestService({ API_KEYS: apiKeysSetting(keys), POLICY_FILE: policy, WATCH_HEARTBEAT_INTERVAL: "300ms", EVENT_RETENTION: "1d" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const login = async (user: string, org = "") =>
    (await t.session("CreateSession", { user_id: user, active_org_id: org }, admin)) as Awaited<ReturnType<TestService["session"]>> & {
      session: { session_id: string };
      tokens: { access_token: string; refresh_token: string };
    };

  it("streams every revocation with who and why, in order, then heartbeats while idle", async () => {
    const feed = watch(t.tokens, {}, admin);
    await feed.until((messages) => messages.some((message) => message.heartbeat));
    const alice = await login("feed-alice");
    await t.session("RevokeSession", { session_id: alice.session.session_id, reason: "logout" }, admin);
    await t.token("RevokeUserTokens", { user_id: "feed-bob", reason: "password_changed" }, admin);
    const reused = await login("feed-carol");
    await t.token("RefreshTokens", { refresh_token: reused.tokens.refresh_token }, admin);
    await failure(t.token("RefreshTokens", { refresh_token: reused.tokens.refresh_token, user_agent: "thief" }, admin));
    await feed.until((messages) => messages.filter((message) => message.event?.kind === KIND("TOKEN_REUSE")).length === 1);
    feed.cancel();

    const events = feed.events.map((event) => [event.kind, event.session_id || event.user_id, event.reason, event.caller]);
    expect(events).toEqual([
      [KIND("SESSION_CREATED"), alice.session.session_id, "login", "admin"],
      [KIND("SESSION_REVOKED"), alice.session.session_id, "logout", "admin"],
      [KIND("USER_VERSION"), "feed-bob", "password_changed", "admin"],
      [KIND("SESSION_CREATED"), reused.session.session_id, "login", "admin"],
      [KIND("SESSION_REVOKED"), reused.session.session_id, "token_reuse", "admin"],
      [KIND("TOKEN_REUSE"), reused.session.session_id, "token_reuse", "admin"],
    ]);
    expect(feed.events.find((event) => event.kind === KIND("USER_VERSION"))?.version).toBe("1");
    const heartbeat = feed.messages.find((message) => message.heartbeat)?.heartbeat;
    expect(heartbeat?.cursor).toMatch(/^\d+\.\d+$/);
    expect(heartbeat?.sent_at).toBeTruthy();
  });

  it("resumes after the last cursor without repeating or missing anything", async () => {
    const first = watch(t.tokens, {}, admin);
    const dave = await login("feed-dave");
    await first.until((messages) => messages.some((message) => message.event?.session_id === dave.session.session_id));
    first.cancel();
    const cursor = first.events.at(-1)?.cursor ?? "";
    // Written while nobody watches.
    await t.session("RevokeSession", { session_id: dave.session.session_id, reason: "logout" }, admin);
    await t.token("RevokeAllTokens", { reason: "drill" }, admin);
    const resumed = watch(t.tokens, { cursor }, admin);
    await resumed.until((messages) => messages.some((message) => message.event?.kind === KIND("GLOBAL_VERSION")));
    resumed.cancel();
    expect(resumed.events.map((event) => [event.kind, event.reason])).toEqual([
      [KIND("SESSION_REVOKED"), "logout"],
      [KIND("GLOBAL_VERSION"), "drill"],
    ]);
  });

  it("filters by kind, and limits an organisation-scoped caller to its organisation", async () => {
    const scoped = watch(t.tokens, {}, rsA);
    const onlyRevocations = watch(t.tokens, { kinds: [KIND("SESSION_REVOKED")] }, admin);
    const inA = await login("feed-erin", "org-a");
    const inB = await login("feed-frank", "org-b");
    for (const session of [inB, inA]) await t.session("RevokeSession", { session_id: session.session.session_id, reason: "logout" }, admin);
    await t.token("RevokeUserTokens", { user_id: "feed-frank", reason: "password_changed" }, admin);
    await scoped.until((messages) => messages.some((message) => message.event?.kind === KIND("USER_VERSION")));
    await onlyRevocations.until((messages) => messages.filter((message) => message.event).length === 2);
    scoped.cancel();
    onlyRevocations.cancel();
    // rs-a sees org-a's sessions, and the user-wide events every watcher needs, never org-b's sessions.
    expect(scoped.events.map((event) => [event.kind, event.active_org_id, event.session_id || event.user_id])).toEqual([
      [KIND("SESSION_CREATED"), "org-a", inA.session.session_id],
      [KIND("SESSION_REVOKED"), "org-a", inA.session.session_id],
      [KIND("USER_VERSION"), "", "feed-frank"],
    ]);
    expect(onlyRevocations.events.map((event) => event.session_id)).toEqual([inB.session.session_id, inA.session.session_id]);

    const outside = watch(t.tokens, { org_ids: ["org-b"] }, rsA);
    expect(await outside.ended).toMatchObject({ code: 7, reason: "ORG_NOT_ALLOWED" });
    const snapshot = await failure(t.token("GetRevocationSnapshot", { org_ids: ["org-b"] }, rsA));
    expect([snapshot.codeName, snapshot.errorInfo?.reason]).toEqual(["PERMISSION_DENIED", "ORG_NOT_ALLOWED"]);
  });

  it("snapshots recent revocations with a cursor the feed continues from", async () => {
    const gone = await login("feed-grace", "org-a");
    await t.session("RevokeSession", { session_id: gone.session.session_id, reason: "logout" }, admin);
    const hidden = await login("feed-heidi", "org-b");
    await t.session("RevokeSession", { session_id: hidden.session.session_id, reason: "logout" }, admin);
    const version = await t.token("RevokeUserTokens", { user_id: "feed-ivan", reason: "password_changed" }, admin);
    const keyToRevoke = (await t.token("ListSigningKeys", {}, admin)).keys.find((key) => key.stage === "SIGNING_KEY_STAGE_SIGNING")?.kid ?? "";
    await t.token("RevokeSigningKey", { kid: keyToRevoke }, admin);

    const snapshot = await t.token("GetRevocationSnapshot", {}, admin);
    expect(snapshot.revoked_sessions.map((session) => session.session_id)).toEqual(
      expect.arrayContaining([gone.session.session_id, hidden.session.session_id]),
    );
    expect(snapshot.user_versions).toContainEqual(expect.objectContaining({ user_id: "feed-ivan", token_version: version.token_version }));
    expect(Number(snapshot.global_version)).toBeGreaterThanOrEqual(1);
    expect(snapshot.revoked_kids).toContain(keyToRevoke);
    expect(Number(snapshot.window?.seconds)).toBe(3600 + 60);
    const scopedSnapshot = await t.token("GetRevocationSnapshot", {}, rsA);
    expect(scopedSnapshot.revoked_sessions.map((session) => session.active_org_id)).not.toContain("org-b");

    const later = await login("feed-judy");
    await t.session("RevokeSession", { session_id: later.session.session_id, reason: "logout" }, admin);
    const resumed = watch(t.tokens, { cursor: snapshot.cursor }, admin);
    await resumed.until((messages) => messages.some((message) => message.event?.session_id === later.session.session_id && message.event?.kind === KIND("SESSION_REVOKED")));
    resumed.cancel();
  });

  it("refuses a malformed cursor, and one older than the retention with what to do", async () => {
    const malformed = watch(t.tokens, { cursor: "yesterday" }, admin);
    expect(await malformed.ended).toMatchObject({ code: 3, reason: "INVALID_ARGUMENT" });
    const unknownKind = watch(t.tokens, { kinds: ["REVOCATION_EVENT_KIND_UNSPECIFIED"] }, admin);
    expect(await unknownKind.ended).toMatchObject({ code: 3, reason: "INVALID_ARGUMENT" });

    const early = watch(t.tokens, {}, admin);
    const kim = await login("feed-kim");
    await early.until((messages) => messages.some((message) => message.event?.session_id === kim.session.session_id));
    early.cancel();
    const oldCursor = early.events.at(-1)?.cursor ?? "";
    // An event after the cursor, which retention then removes: the watcher would miss it.
    await login("feed-lou");
    t.clock.advance(2 * DAY);
    const { events } = await t.service.enforceRetention();
    expect(events).toBeGreaterThan(0);
    const expired = watch(t.tokens, { cursor: oldCursor }, admin);
    const ended = await expired.ended;
    expect(ended).toMatchObject({ code: 11, reason: "CURSOR_EXPIRED" });
    expect(ended.details).toContain("GetRevocationSnapshot");
    t.clock.advance(-2 * DAY);
    // A cursor from a database that was since restored from an older backup is ahead of it: start over too.
    const ahead = await watch(t.tokens, { cursor: "9000000000000000000.1" }, admin).ended;
    expect(ahead).toMatchObject({ code: 11, reason: "CURSOR_EXPIRED" });
    expect(ahead.details).toContain("restored from a backup");
  });

  it("answers VerifyAccessToken from the event-fed cache, not the database", async () => {
    const scrape = async () => {
      const text = await (await fetch(`http://127.0.0.1:${t.service.httpPort}/metrics`)).text();
      const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
      return {
        hits: value(/session_authority_verification_cache_lookups_total\{result="hit"\} (\d+)/),
        current: value(/session_authority_verification_cache_current (\d+)/),
      };
    };
    const token = (await login("feed-mia")).tokens.access_token;
    const before = await scrape();
    for (let i = 0; i < 5; i += 1) await t.token("VerifyAccessToken", { access_token: token }, admin);
    const after = await scrape();
    expect(after.current).toBe(1);
    expect(after.hits - (Number.isNaN(before.hits) ? 0 : before.hits)).toBe(5);
  });

  it("tells the verification cache at once, on this replica, and covers deleted accounts", async () => {
    const session = await login("feed-leo");
    const token = session.tokens.access_token;
    expect((await t.token("VerifyAccessToken", { access_token: token }, admin)).claims?.user_id).toBe("feed-leo");
    await t.session("DeleteUserData", { user_id: "feed-leo" }, admin);
    // The deletion bumps the user's version, which the cache checks before the session.
    expect((await failure(t.token("VerifyAccessToken", { access_token: token }, admin))).errorInfo?.reason).toBe("VERSION_STALE");
  });
});
