import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionVerifier } from "../../clients/ts/src/index.js";
import { apiKeyMetadata, apiKeysSetting, failure } from "../support/clients.js";
import { writePolicyFile } from "../support/policy-file.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { waitUntil } from "../support/wait.js";
import { watch, type Watch } from "../support/watch.js";

// A session that moved from org-a to org-b still has org-a access tokens out
// there: whoever watches org-a must hear when it dies.
describe("revocations after an organisation switch", () => {
  let t: TestService;
  const keys = { login: "login-service-switching-key", "rs-a": "resource-server-a-switch-key" };
  const login = apiKeyMetadata(keys.login);
  const rsA = apiKeyMetadata(keys["rs-a"]);
  const verifiers: SessionVerifier[] = [];
  beforeAll(async () => {
    const policy = await writePolicyFile(
      { login: ["*", "sessionauthority.v1.TokenService/RefreshTokens:switch_org"], "rs-a": ["sessionauthority.v1.TokenService/*"] },
      { orgs: { "rs-a": ["org-a"] } },
    );
    // No grace: presenting a spent token again is reuse at once.
    t = await startTestService({ API_KEYS: apiKeysSetting(keys), POLICY_FILE: policy, WATCH_HEARTBEAT_INTERVAL: "300ms", REFRESH_GRACE_WINDOW: "0s", REFRESH_BURST_WINDOW: "0s" });
  });
  afterAll(async () => {
    for (const verifier of verifiers) verifier.close();
    await t?.stop();
  });

  const orgAVerifier = async () => {
    const verifier = await SessionVerifier.start({
      target: `127.0.0.1:${t.service.grpcPort}`,
      jwksUrl: `http://127.0.0.1:${t.service.httpPort}/.well-known/jwks.json`,
      apiKey: keys["rs-a"],
      orgIds: ["org-a"],
    });
    verifiers.push(verifier);
    return verifier;
  };

  /** A session logged in to org-a, an org-a watcher and verifier, then a refresh that moves the session to org-b. */
  const switchedSession = async (user: string) => {
    const created = await t.session("CreateSession", { user_id: user, active_org_id: "org-a" }, login);
    const sessionId = created.session?.session_id ?? "";
    const orgAToken = created.tokens?.access_token ?? "";
    const feed = watch(t.tokens, { cursor: (await t.token("GetRevocationSnapshot", { org_ids: ["org-a"] }, rsA)).cursor, org_ids: ["org-a"] }, rsA);
    const verifier = await orgAVerifier();
    expect(await verifier.verify(orgAToken)).toMatchObject({ valid: true, claims: { org: "org-a" } });
    const switched = await t.token("RefreshTokens", { refresh_token: created.tokens?.refresh_token ?? "", active_org_id: "org-b" }, login);
    expect((await t.session("GetSession", { session_id: sessionId }, login)).session?.active_org_id).toBe("org-b");
    return { sessionId, orgAToken, spentRefreshToken: created.tokens?.refresh_token ?? "", switched, feed, verifier };
  };

  const heard = (feed: Watch, sessionId: string, kind: string) =>
    feed.until(() => feed.events.some((event) => event.session_id === sessionId && event.kind === `REVOCATION_EVENT_KIND_${kind}`));

  const refusedEverywhereInOrgA = async (sessionId: string, orgAToken: string, feed: Watch, verifier: SessionVerifier) => {
    await heard(feed, sessionId, "SESSION_REVOKED");
    feed.cancel();
    const event = feed.events.find((candidate) => candidate.session_id === sessionId && candidate.kind === "REVOCATION_EVENT_KIND_SESSION_REVOKED");
    expect(event).toMatchObject({ active_org_id: "org-b", org_ids: ["org-a", "org-b"] });
    const snapshot = await t.token("GetRevocationSnapshot", { org_ids: ["org-a"] }, rsA);
    expect(snapshot.revoked_sessions.map((session) => session.session_id)).toContain(sessionId);
    await waitUntil(async () => !(await verifier.verify(orgAToken)).valid);
    expect(await verifier.verify(orgAToken)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });
    // A verifier for org-a that starts now learns it from the snapshot.
    expect(await (await orgAVerifier()).verify(orgAToken)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });
  };

  it("tells org-a's watchers, snapshot and verifiers when a session revoked in org-b was in org-a before", async () => {
    const { sessionId, orgAToken, feed, verifier } = await switchedSession("switcher-revoked");
    await t.session("RevokeSession", { session_id: sessionId, reason: "logout" }, login);
    await refusedEverywhereInOrgA(sessionId, orgAToken, feed, verifier);
  });

  it("does the same when reuse of a refresh token from before the switch kills the session", async () => {
    const { sessionId, orgAToken, spentRefreshToken, feed, verifier } = await switchedSession("switcher-reused");
    const reuse = await failure(t.token("RefreshTokens", { refresh_token: spentRefreshToken }, login));
    expect(reuse.errorInfo?.reason).toBe("TOKEN_REUSED");
    await heard(feed, sessionId, "TOKEN_REUSE");
    await refusedEverywhereInOrgA(sessionId, orgAToken, feed, verifier);
  });
});
