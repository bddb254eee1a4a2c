import { randomUUID } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Session__Output } from "../../src/generated/proto/types/sessionauthority/v1/Session.js";
import { apiKeyMetadata, apiKeysSetting, failure } from "../support/clients.js";
import { writePolicyFile } from "../support/policy-file.js";
import { startTestService, type TestService } from "../support/test-service.js";

const sessionService = "sessionauthority.v1.SessionService";
const tokenService = "sessionauthority.v1.TokenService";
// The RPCs a caller may be granted to reach across callers, one capability each.
const reachable = [
  `${sessionService}/GetSession`,
  `${sessionService}/ListSessions`,
  `${sessionService}/TouchSession`,
  `${sessionService}/UpdateSession`,
  `${sessionService}/RevokeSession`,
  `${sessionService}/RevokeUserSessions`,
  `${sessionService}/ReportSuspiciousActivity`,
  `${sessionService}/RecordProviderAccess`,
  `${tokenService}/ListUserTokens`,
  `${tokenService}/RevokeToken`,
  // Asked for, but never enough to get another caller's tokens.
  `${tokenService}/RevokeUserTokens`,
];

interface OwnedSession {
  readonly userId: string;
  readonly sessionId: string;
  readonly tokenId: string;
  readonly refreshToken: string;
  readonly accessToken: string;
}

describe("sessions belong to the caller that created them", () => {
  let t: TestService;
  const keys = { owner: "owner-login-service-key-1a", other: "other-login-service-key-2b", support: "support-console-key-3c" };
  const owner = apiKeyMetadata(keys.owner);
  const other = apiKeyMetadata(keys.other);
  const support = apiKeyMetadata(keys.support);
  beforeAll(async () => {
    const policy = await writePolicyFile({
      owner: ["*"],
      // "*" reaches every method, but no capability: a wildcard never grants reaching across callers.
      other: ["*"],
      support: ["*", ...reachable.map((method) => `${method}:any_caller`)],
    });
    t = await startTestService({ API_KEYS: apiKeysSetting(keys), POLICY_FILE: policy });
  });
  afterAll(async () => {
    await t?.stop();
  });

  let users = 0;
  const ownedSession = async (): Promise<OwnedSession> => {
    const userId = `owned-user-${++users}`;
    const created = await t.session("CreateSession", { user_id: userId, device_name: "laptop", ip_address: "203.0.113.7" }, owner);
    const sessionId = created.session?.session_id ?? "";
    const listed = await t.token("ListUserTokens", { user_id: userId }, owner);
    return {
      userId,
      sessionId,
      tokenId: listed.tokens[0]?.token_id ?? "",
      refreshToken: created.tokens?.refresh_token ?? "",
      accessToken: created.tokens?.access_token ?? "",
    };
  };
  const ownerView = async (session: OwnedSession): Promise<Session__Output | null> => (await t.session("GetSession", { session_id: session.sessionId }, owner)).session;
  const answer = async (call: Promise<unknown>) => {
    const failed = await failure(call);
    return { code: failed.codeName, reason: failed.errorInfo?.reason, details: failed.details, metadata: failed.errorInfo?.metadata };
  };

  // Each RPC that names a session (or its token) by id. `call` acts on the
  // session; `untouched` says the session is as it was before the call.
  const byId: {
    readonly rpc: string;
    readonly call: (s: OwnedSession, as: grpc.Metadata) => Promise<unknown>;
    /** Absent for an RPC that changes nothing. */
    readonly untouched?: (view: Session__Output | null) => boolean;
  }[] = [
    { rpc: "GetSession", call: (s, as) => t.session("GetSession", { session_id: s.sessionId }, as) },
    {
      rpc: "TouchSession",
      call: (s, as) => t.session("TouchSession", { session_id: s.sessionId, ip_address: "198.51.100.66" }, as),
      untouched: (view) => view?.last_ip_address !== "198.51.100.66",
    },
    {
      rpc: "UpdateSession",
      call: (s, as) =>
        t.session("UpdateSession", {
          session_id: s.sessionId,
          authentication: { amr: ["hwk", "mfa"], acr: "aal3" },
          extra_claims: { fields: { role: { stringValue: "admin" } } },
        }, as),
      untouched: (view) => view?.authentication?.acr === "" && view.extra_claims?.fields["role"] === undefined,
    },
    {
      rpc: "RevokeSession",
      call: (s, as) => t.session("RevokeSession", { session_id: s.sessionId, reason: "stolen" }, as),
      untouched: (view) => view?.state === "SESSION_STATE_ACTIVE",
    },
    {
      rpc: "ReportSuspiciousActivity",
      call: (s, as) => t.session("ReportSuspiciousActivity", { session_id: s.sessionId, reason: "odd" }, as),
      untouched: (view) => view?.suspicious_activity_count === 0 && view.state === "SESSION_STATE_ACTIVE",
    },
    {
      rpc: "RecordProviderAccess",
      call: (s, as) => t.session("RecordProviderAccess", { session_id: s.sessionId, provider: "evil-idp" }, as),
      untouched: (view) => view?.accessed_providers.length === 0,
    },
    {
      rpc: "RevokeToken",
      call: (s, as) => t.token("RevokeToken", { token_id: s.tokenId, reason: "stolen" }, as),
      untouched: (view) => view?.state === "SESSION_STATE_ACTIVE",
    },
  ];
  const unknownSession = (s: OwnedSession): OwnedSession => ({ ...s, sessionId: randomUUID(), tokenId: randomUUID() });

  it.each(byId)("$rpc: another caller's session answers exactly as an unknown one and is left alone", async ({ rpc, call, untouched }) => {
    const session = await ownedSession();
    const unknown = await answer(call(unknownSession(session), other));
    expect(unknown.code).toBe("NOT_FOUND");
    const before = t.logLines.length;
    expect(await answer(call(session, other))).toEqual(unknown);
    if (untouched !== undefined) expect(untouched(await ownerView(session))).toBe(true);
    // The operator learns why, from a warning that names ids and callers, never a token.
    const warning = t.logLines.slice(before).find((line) => line.includes('"level":40') && line.includes(session.sessionId));
    expect(warning, `no warning logged for ${rpc}`).toContain('created by caller \\"owner\\"');
    // Nor does its state leak: a revoked session of another caller is just as unknown.
    await t.session("RevokeSession", { session_id: session.sessionId, reason: "logout" }, owner);
    expect(await answer(call(session, other))).toEqual(unknown);
  });

  it.each(byId)("$rpc: the creating caller, and a caller granted $rpc:any_caller, still act on it", async ({ call, untouched }) => {
    const mine = await ownedSession();
    await call(mine, owner);
    const granted = await ownedSession();
    const response = await call(granted, support);
    if (untouched !== undefined) expect(untouched(await ownerView(granted))).toBe(false);
    // Reaching a session never hands over its tokens.
    expect(JSON.stringify(response)).not.toContain(granted.refreshToken);
    expect(JSON.stringify(response)).not.toContain(granted.accessToken);
  });

  it("RevokeUserTokens never returns another caller's session's tokens, even to a caller granted any_caller", async () => {
    const session = await ownedSession();
    const unknown = await answer(t.token("RevokeUserTokens", { user_id: session.userId, reason: "password_changed", keep_session_id: randomUUID() }, other));
    expect([unknown.code, unknown.reason]).toEqual(["NOT_FOUND", "SESSION_NOT_FOUND"]);
    for (const as of [other, support]) {
      expect(await answer(t.token("RevokeUserTokens", { user_id: session.userId, reason: "password_changed", keep_session_id: session.sessionId }, as))).toEqual(unknown);
    }
    // Refused before the version bump: the owner's session and tokens live on.
    expect((await ownerView(session))?.state).toBe("SESSION_STATE_ACTIVE");
    const kept = await t.token("RevokeUserTokens", { user_id: session.userId, reason: "password_changed", keep_session_id: session.sessionId }, owner);
    expect(kept.session?.session_id).toBe(session.sessionId);
    expect(kept.tokens?.refresh_token).toMatch(/.+/);
  });

  it("lists only the caller's own sessions and tokens of a user, unless granted any_caller", async () => {
    const session = await ownedSession();
    const othersOwn = (await t.session("CreateSession", { user_id: session.userId }, other)).session?.session_id ?? "";
    const sessionsSeenBy = async (as: grpc.Metadata) =>
      (await t.session("ListSessions", { user_id: session.userId, include_inactive: true }, as)).sessions.map((s) => s.session_id).sort();
    const tokensSeenBy = async (as: grpc.Metadata) =>
      (await t.token("ListUserTokens", { user_id: session.userId }, as)).tokens.map((token) => token.session_id).sort();
    expect(await sessionsSeenBy(other)).toEqual([othersOwn]);
    expect(await tokensSeenBy(other)).toEqual([othersOwn]);
    expect(await sessionsSeenBy(owner)).toEqual([session.sessionId]);
    expect(await tokensSeenBy(owner)).toEqual([session.sessionId]);
    expect(await sessionsSeenBy(support)).toEqual([session.sessionId, othersOwn].sort());
    expect(await tokensSeenBy(support)).toEqual([session.sessionId, othersOwn].sort());
  });

  it("RevokeUserSessions ends only the caller's own sessions of a user, unless granted any_caller", async () => {
    const session = await ownedSession();
    const othersOwn = (await t.session("CreateSession", { user_id: session.userId }, other)).session?.session_id ?? "";
    expect((await t.session("RevokeUserSessions", { user_id: session.userId, reason: "logout_everywhere" }, other)).revoked_count).toBe(1);
    expect((await ownerView(session))?.state).toBe("SESSION_STATE_ACTIVE");
    expect((await t.session("GetSession", { session_id: othersOwn }, other)).session?.state).toBe("SESSION_STATE_REVOKED");
    expect((await t.session("RevokeUserSessions", { user_id: session.userId, reason: "logout_everywhere" }, support)).revoked_count).toBe(1);
    expect((await ownerView(session))?.state).toBe("SESSION_STATE_REVOKED");
  });

  it("user-wide kill switches reach every caller's sessions: RevokeUserTokens' version bump", async () => {
    const session = await ownedSession();
    await t.token("RevokeUserTokens", { user_id: session.userId, reason: "compromised" }, other);
    expect((await ownerView(session))?.state).toBe("SESSION_STATE_REVOKED");
  });

  it("a refresh token of another caller's session stays unknown, even to a caller granted any_caller", async () => {
    const session = await ownedSession();
    const refused = await answer(t.session("GetSession", { refresh_token: session.refreshToken }, support));
    expect([refused.code, refused.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_UNKNOWN"]);
    expect((await answer(t.token("RefreshTokens", { refresh_token: session.refreshToken }, support))).reason).toBe("TOKEN_UNKNOWN");
  });
});

describe("VerifyAccessToken for a caller limited to some organisations", () => {
  let t: TestService;
  const keys = { login: "login-for-verify-tests-key", "verifier-b": "org-b-resource-server-key", verifier: "any-org-resource-server-key" };
  const login = apiKeyMetadata(keys.login);
  const scopedToB = apiKeyMetadata(keys["verifier-b"]);
  const unscoped = apiKeyMetadata(keys.verifier);
  beforeAll(async () => {
    const verify = [`${tokenService}/VerifyAccessToken`];
    const policy = await writePolicyFile({ login: ["*"], "verifier-b": verify, verifier: verify }, { orgs: { "verifier-b": ["org-b"] } });
    t = await startTestService({ API_KEYS: apiKeysSetting(keys), POLICY_FILE: policy });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const loginIn = async (user_id: string, active_org_id: string) => {
    const created = await t.session("CreateSession", { user_id, active_org_id }, login);
    return { sessionId: created.session?.session_id ?? "", accessToken: created.tokens?.access_token ?? "" };
  };
  const reasonFor = async (access_token: string, as: grpc.Metadata) => {
    const failed = await failure(t.token("VerifyAccessToken", { access_token }, as));
    return [failed.codeName, failed.errorInfo?.reason];
  };
  const unknown = ["UNAUTHENTICATED", "TOKEN_UNKNOWN"];

  it("answers another organisation's token, and one with no organisation, as unknown; its own organisation's with the claims", async () => {
    const inA = await loginIn("verify-u1", "org-a");
    const inB = await loginIn("verify-u1", "org-b");
    const noOrg = await loginIn("verify-u1", "");
    expect(await reasonFor(inA.accessToken, scopedToB)).toEqual(unknown);
    expect(await reasonFor(noOrg.accessToken, scopedToB)).toEqual(unknown);
    expect((await t.token("VerifyAccessToken", { access_token: inB.accessToken }, scopedToB)).claims?.active_org_id).toBe("org-b");
    // Owner-free: a resource server verifies tokens another caller (the login service) created.
    expect((await t.token("VerifyAccessToken", { access_token: inA.accessToken }, unscoped)).claims?.active_org_id).toBe("org-a");
  });

  it("judges by the organisation the token carries, not the session's current one, and reveals no state", async () => {
    const moved = await loginIn("verify-u2", "org-a");
    await t.session("UpdateSession", { session_id: moved.sessionId, active_org_id: "org-b" }, login);
    expect(await reasonFor(moved.accessToken, scopedToB)).toEqual(unknown);
    await t.session("RevokeSession", { session_id: moved.sessionId, reason: "logout" }, login);
    expect(await reasonFor(moved.accessToken, unscoped)).toEqual(["UNAUTHENTICATED", "TOKEN_REVOKED"]);
    expect(await reasonFor(moved.accessToken, scopedToB)).toEqual(unknown);
  });
});
