import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreateSessionRequest } from "../../src/generated/proto/types/sessionauthority/v1/CreateSessionRequest.js";
import { failure } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

describe("CreateSession", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const create = (request: CreateSessionRequest) => t.session("CreateSession", request);
  const nowSeconds = () => Math.floor(t.clock.now().getTime() / 1000);

  it("returns the session and a token pair whose access token verifies against the JWKS", async () => {
    const { session, tokens, replayed } = await create({
      user_id: "user-1",
      active_org_id: "org-a",
      device_name: "Alice's laptop",
      user_agent: "Mozilla/5.0",
      ip_address: "203.0.113.7",
      location: "DE-Berlin",
      is_trusted: true,
      authentication: { amr: ["pwd", "mfa"], acr: "urn:example:loa:2" },
      extra_claims: { fields: { plan: { stringValue: "pro" }, seats: { numberValue: 3 } } },
    });
    expect(session?.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(session).toMatchObject({
      user_id: "user-1",
      active_org_id: "org-a",
      state: "SESSION_STATE_ACTIVE",
      device_name: "Alice's laptop",
      user_agent: "Mozilla/5.0",
      ip_address: "203.0.113.7",
      last_ip_address: "203.0.113.7",
      location: "DE-Berlin",
      is_trusted: true,
      suspicious_activity_count: 0,
      created_by: "anonymous",
      revoke_reason: "",
      revoked_at: null,
    });
    expect(session?.authentication?.amr).toEqual(["pwd", "mfa"]);
    expect(tokens?.refresh_token).toMatch(/^sa_rt_[A-Za-z0-9_-]{49}$/);
    expect(replayed).toBe(false);

    const jwks = await t.token("GetJwks", {});
    expect(jwks.keys).toHaveLength(1);
    const keySet = createLocalJWKSet({ keys: jwks.keys.map(({ kty, crv, x, kid, alg }) => ({ kty, crv, x, kid, alg })) });
    const { payload, protectedHeader } = await jwtVerify(tokens?.access_token ?? "", keySet, {
      issuer: "session-authority",
      audience: "platform",
      currentDate: t.clock.now(),
    });
    // RFC 9068: typed as an access token, naming the client (the caller that created the session).
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: jwks.keys[0]?.kid, typ: "at+jwt" });
    expect(payload).toMatchObject({
      sub: "user-1",
      sid: session?.session_id,
      client_id: "anonymous",
      org: "org-a",
      tv: 0,
      gv: 0,
      amr: ["pwd", "mfa"],
      acr: "urn:example:loa:2",
      plan: "pro",
      seats: 3,
    });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);
    expect(Number(tokens?.access_token_expires_at?.seconds)).toBe(payload.exp);
    // Refresh idle expiry: 14 days by default.
    expect(Math.abs(Number(tokens?.refresh_token_expires_at?.seconds) - nowSeconds() - 14 * 86_400)).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(session?.expires_at?.seconds) - nowSeconds() - 90 * 86_400)).toBeLessThanOrEqual(1);
  });

  it("caps per-call lifetimes at the server maximums and honours shorter ones", async () => {
    const long = await create({ user_id: "user-ttl", access_token_ttl: { seconds: 86_400 * 30 }, session_ttl: { seconds: 86_400 * 1000 } });
    expect(Number(long.tokens?.access_token_expires_at?.seconds) - nowSeconds()).toBeLessThanOrEqual(3600);
    expect(Number(long.session?.expires_at?.seconds) - nowSeconds()).toBeLessThanOrEqual(365 * 86_400 + 1);
    const short = await create({ user_id: "user-ttl", access_token_ttl: { seconds: 60 }, refresh_token_ttl: { seconds: 3600 } });
    expect(Number(short.tokens?.access_token_expires_at?.seconds) - nowSeconds()).toBeLessThanOrEqual(61);
    expect(Number(short.tokens?.refresh_token_expires_at?.seconds) - nowSeconds()).toBeLessThanOrEqual(3601);
  });

  it("refuses reserved claim names with INVALID_ARGUMENT and reason RESERVED_CLAIM", async () => {
    for (const name of ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "tv", "gv", "org", "cnf", "azp", "amr", "acr", "auth_time", "client_id"]) {
      const failed = await failure(create({ user_id: "user-2", extra_claims: { fields: { [name]: { stringValue: "x" } } } }));
      expect(failed.codeName).toBe("INVALID_ARGUMENT");
      expect(failed.errorInfo).toEqual({ reason: "RESERVED_CLAIM", domain: "sessionauthority", metadata: { field: "extra_claims", claim: name } });
    }
  });

  it("refuses malformed input with INVALID_ARGUMENT naming the field", async () => {
    const cases: [CreateSessionRequest, string][] = [
      [{ user_id: "" }, "user_id"],
      [{ user_id: "x".repeat(257) }, "user_id"],
      [{ user_id: "u", ip_address: "999.1.1.1" }, "ip_address"],
      [{ user_id: "u", device_name: "bad\u0000name" }, "device_name"],
      [{ user_id: "u", access_token_ttl: { seconds: -5 } }, "access_token_ttl"],
      [{ user_id: "u", authentication: { auth_time: { seconds: 4_000_000_000 } } }, "authentication.auth_time"],
      [{ user_id: "u", idempotency_key: "k".repeat(129) }, "idempotency_key"],
    ];
    for (const [request, field] of cases) {
      const failed = await failure(create(request));
      expect(failed.codeName, field).toBe("INVALID_ARGUMENT");
      expect(failed.errorInfo?.reason).toBe("INVALID_ARGUMENT");
      expect(failed.errorInfo?.metadata["field"]).toBe(field);
    }
  });

  it("answers a retried login with the first answer's tokens, refreshable once whichever answer the client kept", async () => {
    const first = await create({ user_id: "user-idem", idempotency_key: "login-123" });
    const retry = await create({ user_id: "user-idem", idempotency_key: "login-123" });
    expect(retry.replayed).toBe(true);
    expect(retry.session?.session_id).toBe(first.session?.session_id);
    // The same refresh token: the client may have received either answer.
    expect(retry.tokens?.refresh_token).toBe(first.tokens?.refresh_token);
    expect(retry.tokens?.access_token).not.toBe("");
    expect((await t.token("VerifyAccessToken", { access_token: retry.tokens?.access_token ?? "" })).claims?.session_id).toBe(first.session?.session_id);
    // Refreshed as if the login had been answered once: the successor works, and so does its successor.
    const next = await t.token("RefreshTokens", { refresh_token: first.tokens?.refresh_token ?? "" });
    const after = await t.token("RefreshTokens", { refresh_token: next.tokens?.refresh_token ?? "" });
    expect(after.session?.state).toBe("SESSION_STATE_ACTIVE");
    // A retry after the first answer was used gets nothing that could fork the family, and harms nothing.
    const late = await failure(create({ user_id: "user-idem", idempotency_key: "login-123" }));
    expect([late.codeName, late.errorInfo?.reason]).toEqual(["FAILED_PRECONDITION", "LOGIN_ALREADY_REFRESHED"]);
    const still = await t.token("RefreshTokens", { refresh_token: after.tokens?.refresh_token ?? "" });
    expect(still.session?.state).toBe("SESSION_STATE_ACTIVE");
    expect((await t.session("ListSessions", { user_id: "user-idem" })).sessions).toHaveLength(1);
    const other = await create({ user_id: "user-idem", idempotency_key: "login-456" });
    expect(other.session?.session_id).not.toBe(first.session?.session_id);
    expect(other.tokens?.refresh_token).not.toBe(first.tokens?.refresh_token);
  });

  it("treats an idempotency key older than 24 hours as a new login", async () => {
    const first = await create({ user_id: "user-idem-old", idempotency_key: "reused" });
    t.clock.advance(25 * 3_600_000);
    const later = await create({ user_id: "user-idem-old", idempotency_key: "reused" });
    expect(later.replayed).toBe(false);
    expect(later.session?.session_id).not.toBe(first.session?.session_id);
  });

  it("does not evict another session when a login is retried at the session limit", async () => {
    const limited = await startTestService({ MAX_ACTIVE_SESSIONS_PER_USER: "1" });
    try {
      const login = (key: string) => limited.session("CreateSession", { user_id: "u", idempotency_key: key });
      const first = await login("k1");
      await login("k1");
      await login("k1");
      const list = await limited.session("ListSessions", { user_id: "u", include_inactive: true });
      expect(list.sessions.map((s) => s.session_id)).toEqual([first.session?.session_id]);
    } finally {
      await limited.stop();
    }
  });

  it("never writes a refresh or access token into the logs", async () => {
    const { tokens } = await create({ user_id: "user-logs" });
    const lines = t.logLines.join("\n");
    expect(lines).toContain("CreateSession");
    expect(lines).not.toContain(tokens?.refresh_token);
    expect(lines).not.toContain(tokens?.access_token);
  });
});
