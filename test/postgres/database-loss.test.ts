import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../support/clients.js";
import { startEmbeddedPostgres, type RunningPostgres } from "../support/embedded-postgres.js";
import { callCheck, connectEdge } from "../support/ext-authz-client.js";
import { healthCheck } from "../support/health.js";
import { query } from "../support/sql.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { waitUntil } from "../support/wait.js";

const VERIFY = "sessionauthority.v1.TokenService/VerifyAccessToken";

// The service runs in this process on a PostgreSQL the test can stop; its
// clock is the test's, so the staleness allowance runs out when the test says.
describe("losing the database", () => {
  let postgres: RunningPostgres;
  let t: TestService;

  beforeAll(async () => {
    postgres = await startEmbeddedPostgres();
    t = await startTestService({ DATABASE_URL: postgres.url, DB_HEALTH_INTERVAL: "100ms", VERIFY_STALE_LIMIT: "60s", LISTEN_RETRY_DELAY: "100ms" });
  });
  afterAll(async () => {
    await t?.stop();
    await postgres?.stop();
  });

  const readyz = async (service?: string) => {
    const response = await fetch(`http://127.0.0.1:${t.service.httpPort}/readyz${service === undefined ? "" : `?service=${service}`}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const healthOf = async () =>
    Object.fromEntries(
      await Promise.all(
        ["", "sessionauthority.v1.SessionService", "sessionauthority.v1.TokenService", VERIFY].map(async (name) => [name, await healthCheck(t.service.grpcPort, name)]),
      ),
    );

  it("keeps verifying from the cache and serving the JWKS, reports exactly what broke, loses nothing, and recovers", { timeout: 120_000 }, async () => {
    const kept = await t.session("CreateSession", { user_id: "outage-kept" });
    const ended = await t.session("CreateSession", { user_id: "outage-ended" });
    await t.session("RevokeSession", { session_id: ended.session?.session_id ?? "", reason: "logout" });
    const keptToken = kept.tokens?.access_token ?? "";
    expect((await readyz()).body).toMatchObject({ status: "ready" });

    await postgres.halt();
    await waitUntil(async () => (await healthCheck(t.service.grpcPort, "sessionauthority.v1.SessionService")) === "NOT_SERVING", 15_000);
    expect(await healthOf()).toEqual({
      "": "SERVING",
      "sessionauthority.v1.SessionService": "NOT_SERVING",
      "sessionauthority.v1.TokenService": "NOT_SERVING",
      [VERIFY]: "SERVING",
    });
    expect((await fetch(`http://127.0.0.1:${t.service.httpPort}/healthz`)).status).toBe(200);
    expect(await readyz()).toMatchObject({ status: 200, body: { status: "degraded" } });
    expect((await readyz("sessionauthority.v1.SessionService")).status).toBe(503);
    expect((await readyz(VERIFY)).status).toBe(200);

    // Verification and the JWKS keep working; revocations known before the outage still hold.
    expect((await t.token("VerifyAccessToken", { access_token: keptToken })).claims?.session_id).toBe(kept.session?.session_id);
    expect((await failure(t.token("VerifyAccessToken", { access_token: ended.tokens?.access_token ?? "" }))).errorInfo?.reason).toBe("TOKEN_REVOKED");
    // Envoy's Check answers as VerifyAccessToken does.
    const edge = connectEdge(t.service.grpcPort);
    const edgeCheck = (token: string) => callCheck(edge, { headers: { authorization: `Bearer ${token}` } });
    expect((await edgeCheck(keptToken)).status?.code).toBe(0);
    expect((await edgeCheck(ended.tokens?.access_token ?? "")).status?.message).toBe("TOKEN_REVOKED");
    expect((await t.token("GetJwks", {})).keys.length).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${t.service.httpPort}/.well-known/jwks.json`)).status).toBe(200);

    // What needs the database says so, retryably.
    for (const call of [
      () => t.session("CreateSession", { user_id: "outage-new" }),
      () => t.token("RefreshTokens", { refresh_token: kept.tokens?.refresh_token ?? "" }),
      () => t.session("RevokeSession", { session_id: kept.session?.session_id ?? "", reason: "logout" }),
    ]) {
      const refused = await failure(call());
      expect([refused.codeName, refused.errorInfo?.reason]).toEqual(["UNAVAILABLE", "DATABASE_UNAVAILABLE"]);
    }

    // Past VERIFY_STALE_LIMIT the cache no longer vouches for anyone.
    t.clock.advance(61_000);
    const tooStale = await failure(t.token("VerifyAccessToken", { access_token: keptToken }));
    expect(tooStale.codeName).toBe("UNAVAILABLE");
    // An error, not a denial: Envoy with failure_mode_allow: false refuses the request (503), blaming no token.
    const edgeTooStale = await failure(edgeCheck(keptToken));
    expect(edgeTooStale.codeName).toBe("UNAVAILABLE");
    edge.close();
    await waitUntil(async () => (await healthCheck(t.service.grpcPort, VERIFY)) === "NOT_SERVING", 15_000);
    expect(await readyz()).toMatchObject({ status: 503, body: { status: "not_ready" } });
    expect(await healthCheck(t.service.grpcPort, "")).toBe("SERVING");

    await postgres.resume();
    await waitUntil(async () => (await healthCheck(t.service.grpcPort, "sessionauthority.v1.SessionService")) === "SERVING", 20_000);
    await waitUntil(async () => (await readyz()).body["status"] === "ready", 20_000);
    // Nothing was lost and nothing half-done: the refused refresh and revocation left the session as it was.
    expect((await t.token("VerifyAccessToken", { access_token: keptToken })).claims?.session_id).toBe(kept.session?.session_id);
    const refreshed = await t.token("RefreshTokens", { refresh_token: kept.tokens?.refresh_token ?? "" });
    expect(refreshed.session?.state).toBe("SESSION_STATE_ACTIVE");
    const [counts] = await query<{ sessions: number; live_tokens: number; revoked: number }>(
      postgres.url,
      `SELECT (SELECT count(*)::int FROM sessions) AS sessions,
              (SELECT count(*)::int FROM refresh_tokens WHERE rotated_at IS NULL AND revoked_at IS NULL) AS live_tokens,
              (SELECT count(*)::int FROM sessions WHERE revoked_at IS NOT NULL) AS revoked`,
    );
    expect(counts).toEqual({ sessions: 2, live_tokens: 1, revoked: 1 });
    expect(t.logLines.some((line) => line.includes("database unreachable"))).toBe(true);
  });

  /** Turns the whole server read-only (or back) as an operator or a full disk's emergency setting would. */
  async function setReadOnly(on: boolean): Promise<void> {
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query("SET default_transaction_read_only = off");
      await admin.query(on ? "ALTER SYSTEM SET default_transaction_read_only = on" : "ALTER SYSTEM RESET default_transaction_read_only");
      await admin.query("SELECT pg_reload_conf()");
    } finally {
      await admin.end();
    }
  }

  it("answers UNAVAILABLE for writes while the database is read-only, writes nothing half-way, and verifies meanwhile", { timeout: 60_000 }, async () => {
    const created = await t.session("CreateSession", { user_id: "read-only-user" });
    const sessionId = created.session?.session_id ?? "";
    const [before] = await query<{ sessions: number; tokens: number; events: number }>(
      postgres.url,
      "SELECT (SELECT count(*)::int FROM sessions) AS sessions, (SELECT count(*)::int FROM refresh_tokens) AS tokens, (SELECT count(*)::int FROM revocation_events) AS events",
    );
    await setReadOnly(true);
    try {
      await waitUntil(async () => (await healthCheck(t.service.grpcPort, "sessionauthority.v1.TokenService")) === "NOT_SERVING", 15_000);
      expect(await healthCheck(t.service.grpcPort, VERIFY)).toBe("SERVING");
      for (const call of [
        () => t.session("CreateSession", { user_id: "read-only-user" }),
        () => t.token("RefreshTokens", { refresh_token: created.tokens?.refresh_token ?? "" }),
        () => t.session("RevokeSession", { session_id: sessionId, reason: "logout" }),
        () => t.token("RevokeUserTokens", { user_id: "read-only-user", reason: "password_changed" }),
      ]) {
        const refused = await failure(call());
        expect([refused.codeName, refused.errorInfo?.reason]).toEqual(["UNAVAILABLE", "DATABASE_UNAVAILABLE"]);
      }
      expect((await t.token("VerifyAccessToken", { access_token: created.tokens?.access_token ?? "" })).claims?.session_id).toBe(sessionId);
      expect((await t.session("GetSession", { session_id: sessionId })).session?.state).toBe("SESSION_STATE_ACTIVE");
    } finally {
      await setReadOnly(false);
    }
    await waitUntil(async () => (await healthCheck(t.service.grpcPort, "sessionauthority.v1.TokenService")) === "SERVING", 15_000);
    const [after] = await query<{ sessions: number; tokens: number; events: number }>(
      postgres.url,
      "SELECT (SELECT count(*)::int FROM sessions) AS sessions, (SELECT count(*)::int FROM refresh_tokens) AS tokens, (SELECT count(*)::int FROM revocation_events) AS events",
    );
    expect(after).toEqual(before);
    // The refused refresh left the token as it was: it rotates now as a first rotation.
    expect((await t.token("RefreshTokens", { refresh_token: created.tokens?.refresh_token ?? "" })).session?.state).toBe("SESSION_STATE_ACTIVE");
  });
});
