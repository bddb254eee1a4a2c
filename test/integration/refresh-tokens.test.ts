import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("RefreshTokens", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ REFRESH_GRACE_WINDOW: "10s", REFRESH_GRACE_MAX_REPLAYS: "2", REFRESH_BURST_WINDOW: "1s" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const login = async (user_id: string) => {
    const response = await t.session("CreateSession", { user_id, ip_address: "198.51.100.7", user_agent: "app/1" });
    return { id: response.session?.session_id ?? "", refreshToken: response.tokens?.refresh_token ?? "", accessToken: response.tokens?.access_token ?? "" };
  };
  const refresh = (refresh_token: string, ip_address = "198.51.100.7") =>
    t.token("RefreshTokens", { refresh_token, ip_address, user_agent: "app/1" });

  it("rotates: a new pair, the session's activity recorded, and the successor usable", async () => {
    const { id, refreshToken } = await login("rotator");
    const first = await refresh(refreshToken, "198.51.100.8");
    expect(first.tokens?.refresh_token).toMatch(/^sa_rt_[A-Za-z0-9_-]{49}$/);
    expect(first.tokens?.refresh_token).not.toBe(refreshToken);
    expect(first.session).toMatchObject({ session_id: id, last_ip_address: "198.51.100.8", state: "SESSION_STATE_ACTIVE" });
    const verified = await t.token("VerifyAccessToken", { access_token: first.tokens?.access_token ?? "" });
    expect(verified.claims).toMatchObject({ user_id: "rotator", session_id: id, token_version: "0", global_version: "0" });
    // The refresh lifetime slides (14 days by default) but never past the session's end.
    const slidTo = Number(first.tokens?.refresh_token_expires_at?.seconds);
    expect(Math.abs(slidTo - Date.now() / 1000 - 14 * 86_400)).toBeLessThan(120);
    expect(slidTo).toBeLessThanOrEqual(Number(first.session?.expires_at?.seconds));
    const second = await refresh(first.tokens?.refresh_token ?? "", "198.51.100.8");
    expect(second.tokens?.refresh_token).not.toBe(first.tokens?.refresh_token);
    expect((await t.session("GetSession", { refresh_token: second.tokens?.refresh_token ?? "" })).session?.session_id).toBe(id);
  });

  it("answers a retry within the grace window with the same successor, a limited number of times", async () => {
    const { id, refreshToken } = await login("retrier");
    const first = await refresh(refreshToken);
    // Immediately: a burst of parallel requests, never counted.
    const burst = await refresh(refreshToken);
    expect(burst.tokens?.refresh_token).toBe(first.tokens?.refresh_token);
    expect(burst.tokens?.access_token).not.toBe("");
    await sleep(1100);
    for (let i = 0; i < 2; i += 1) expect((await refresh(refreshToken)).tokens?.refresh_token).toBe(first.tokens?.refresh_token);
    const third = await failure(refresh(refreshToken));
    expect([third.codeName, third.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_REUSED"]);
    expect((await t.session("GetSession", { session_id: id })).session).toMatchObject({ state: "SESSION_STATE_REVOKED", revoke_reason: "token_reuse" });
    const successor = await failure(refresh(first.tokens?.refresh_token ?? ""));
    expect(successor.errorInfo?.reason).toBe("TOKEN_REVOKED");
  });

  it("treats the parent presented from another client as reuse and revokes the whole family", async () => {
    const { id, refreshToken } = await login("victim");
    const legit = await refresh(refreshToken);
    const thief = await failure(refresh(refreshToken, "203.0.113.66"));
    expect([thief.codeName, thief.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_REUSED"]);
    expect((await failure(refresh(legit.tokens?.refresh_token ?? ""))).errorInfo?.reason).toBe("TOKEN_REVOKED");
    const access = await failure(t.token("VerifyAccessToken", { access_token: legit.tokens?.access_token ?? "" }));
    expect(access.errorInfo?.reason).toBe("TOKEN_REVOKED");
    expect((await t.session("GetSession", { session_id: id })).session?.revoke_reason).toBe("token_reuse");
  });

  it("treats any older ancestor as reuse, whatever the client", async () => {
    const { refreshToken } = await login("ancestor");
    const a = await refresh(refreshToken);
    await refresh(a.tokens?.refresh_token ?? "");
    await sleep(1100);
    const replayed = await failure(refresh(refreshToken));
    expect(replayed.errorInfo?.reason).toBe("TOKEN_REUSED");
  });

  it("never slides a refresh token past its session's absolute end", async () => {
    const short = await t.session("CreateSession", { user_id: "capped", session_ttl: { seconds: 3600 } });
    const next = await refresh(short.tokens?.refresh_token ?? "");
    expect(next.tokens?.refresh_token_expires_at?.seconds).toBe(short.session?.expires_at?.seconds);
  });

  it("refuses unknown, malformed and expired tokens with distinct reasons", async () => {
    expect((await failure(refresh(""))).codeName).toBe("INVALID_ARGUMENT");
    expect((await failure(refresh("garbage"))).errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    expect((await failure(refresh(`sa_rt_${"B".repeat(43)}`))).errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    // A live token with one character changed fails its checksum: unknown, and the real one still works.
    const live = (await t.session("CreateSession", { user_id: "typo" })).tokens?.refresh_token ?? "";
    const typo = `${live.slice(0, -1)}${live.endsWith("A") ? "B" : "A"}`;
    expect((await failure(refresh(typo))).errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    expect((await refresh(live)).tokens?.refresh_token).toMatch(/^sa_rt_/);
    const short = await t.session("CreateSession", { user_id: "short", refresh_token_ttl: { seconds: 1 } });
    await sleep(1200);
    const expired = await failure(refresh(short.tokens?.refresh_token ?? ""));
    expect([expired.codeName, expired.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_EXPIRED"]);
  });

  it("RevokeUserTokens kills every earlier refresh and access token of that user only, in one version bump", async () => {
    const a = await login("breached");
    const b = await login("breached");
    const bystander = await login("fine");
    const { token_version } = await t.token("RevokeUserTokens", { user_id: "breached", reason: "password_changed" });
    expect(token_version).toBe("1");
    for (const session of [a, b]) {
      expect((await failure(refresh(session.refreshToken))).errorInfo?.reason).toBe("VERSION_STALE");
      expect((await failure(t.token("VerifyAccessToken", { access_token: session.accessToken }))).errorInfo?.reason).toBe("VERSION_STALE");
    }
    const listed = await t.session("ListSessions", { user_id: "breached", include_inactive: true });
    expect(listed.sessions.map((s) => [s.state, s.revoke_reason])).toEqual([
      ["SESSION_STATE_REVOKED", "password_changed"],
      ["SESSION_STATE_REVOKED", "password_changed"],
    ]);
    expect((await t.session("ListSessions", { user_id: "breached" })).sessions).toEqual([]);
    const fresh = await login("breached");
    expect((await refresh(fresh.refreshToken)).session?.state).toBe("SESSION_STATE_ACTIVE");
    expect((await t.token("VerifyAccessToken", { access_token: bystander.accessToken })).claims?.user_id).toBe("fine");
  });

  it("RevokeRefreshToken ends the token's session and answers OK for unknown tokens", async () => {
    const { id, refreshToken } = await login("logout");
    expect(await t.token("RevokeRefreshToken", { refresh_token: refreshToken, reason: "logout" })).toEqual({ session_id: id });
    expect((await t.session("GetSession", { session_id: id })).session).toMatchObject({ state: "SESSION_STATE_REVOKED", revoke_reason: "logout" });
    expect((await failure(refresh(refreshToken))).errorInfo?.reason).toBe("TOKEN_REVOKED");
    expect(await t.token("RevokeRefreshToken", { refresh_token: `sa_rt_${"C".repeat(43)}` })).toEqual({ session_id: "" });
  });

  it("VerifyAccessToken refuses altered tokens", async () => {
    const { accessToken } = await login("verifier");
    const [header, payload, signature] = accessToken.split(".");
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: "admin" })).toString("base64url")}.${signature}`;
    expect((await failure(t.token("VerifyAccessToken", { access_token: forged }))).errorInfo?.reason).toBe("TOKEN_SIGNATURE_INVALID");
    expect((await failure(t.token("VerifyAccessToken", { access_token: `${header}.${payload}.AAAA` }))).errorInfo?.reason).toBe("TOKEN_SIGNATURE_INVALID");
    expect((await failure(t.token("VerifyAccessToken", { access_token: "" }))).codeName).toBe("INVALID_ARGUMENT");
  });

  // Last: it invalidates every token in this service.
  it("RevokeAllTokens kills every token of every user in one version bump", async () => {
    const a = await login("everyone-1");
    const b = await login("everyone-2");
    expect((await failure(t.token("RevokeAllTokens", { reason: "" }))).codeName).toBe("INVALID_ARGUMENT");
    expect((await t.token("RevokeAllTokens", { reason: "breach" })).global_version).toBe("1");
    for (const session of [a, b]) {
      expect((await failure(refresh(session.refreshToken))).errorInfo?.reason).toBe("VERSION_STALE");
      expect((await failure(t.token("VerifyAccessToken", { access_token: session.accessToken }))).errorInfo?.reason).toBe("VERSION_STALE");
      expect((await t.session("GetSession", { session_id: session.id })).session).toMatchObject({ state: "SESSION_STATE_REVOKED", revoke_reason: "breach" });
    }
    const after = await login("everyone-1");
    expect((await t.token("VerifyAccessToken", { access_token: after.accessToken })).claims?.global_version).toBe("1");
  });
});
