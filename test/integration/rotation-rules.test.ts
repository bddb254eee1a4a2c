import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashRefreshToken } from "../../src/crypto/refresh-token.js";
import { failure } from "../support/clients.js";
import { backend, startTestService, type TestService } from "../support/test-service.js";

// The rotation rules of ADR 013, one row of its table per test, each one a
// way a spent token used to stay alive.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  ["grace on", { REFRESH_GRACE_WINDOW: "10s", REFRESH_BURST_WINDOW: "5s" }],
  ["grace off", { REFRESH_GRACE_WINDOW: "0s", REFRESH_BURST_WINDOW: "5s" }],
])("a spent token presented again (%s)", (_name, env) => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService(env);
  });
  afterAll(async () => {
    await t?.stop();
  });
  const refresh = (refresh_token: string, ip_address = "198.51.100.7") => t.token("RefreshTokens", { refresh_token, ip_address, user_agent: "app/1" });
  const login = async (user_id: string) => {
    const created = await t.session("CreateSession", { user_id, ip_address: "198.51.100.7", user_agent: "app/1" });
    return { id: created.session?.session_id ?? "", refreshToken: created.tokens?.refresh_token ?? "" };
  };

  it("is reuse when its successor was used, even at once and from the same client: the session is revoked", async () => {
    const { id, refreshToken: a } = await login("spent-twice");
    const b = (await refresh(a)).tokens?.refresh_token ?? "";
    const c = (await refresh(b)).tokens?.refresh_token ?? "";
    const replayed = await failure(refresh(a));
    expect([replayed.codeName, replayed.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_REUSED"]);
    expect((await t.session("GetSession", { session_id: id })).session).toMatchObject({ state: "SESSION_STATE_REVOKED", revoke_reason: "token_reuse" });
    expect((await failure(refresh(c))).errorInfo?.reason).toBe("TOKEN_REVOKED");
  });

  it("is reuse when another client presents it, even while its rotation is racing", async () => {
    const { id, refreshToken } = await login("raced-by-thief");
    // On PostgreSQL both requests are made to wait on the token's row lock, so
    // both transactions begin before either rotation: a true race. PGlite runs
    // one transaction at a time, so there the second simply comes after.
    const holder = backend === "postgres" ? new pg.Client({ connectionString: t.databaseUrl }) : undefined;
    if (holder !== undefined) {
      await holder.connect();
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE", [hashRefreshToken(refreshToken)]);
    }
    const owner = refresh(refreshToken, "198.51.100.7").then(
      (response) => ({ ok: true as const, response }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const thief = refresh(refreshToken, "203.0.113.66").then(
      (response) => ({ ok: true as const, response }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (holder !== undefined) {
      await sleep(300);
      await holder.query("COMMIT");
      await holder.end();
    }
    const outcomes = await Promise.all([owner, thief]);
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
    const loser = outcomes.find((outcome) => !outcome.ok);
    const refused = await failure(Promise.reject(loser?.error));
    expect([refused.codeName, refused.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_REUSED"]);
    expect((await t.session("GetSession", { session_id: id })).session?.state).toBe("SESSION_STATE_REVOKED");
  });

  it("binds the client by its canonical address: ::ffff:203.0.113.7 and 203.0.113.7 are one client", async () => {
    const { id, refreshToken } = await login("dual-stack");
    const first = await refresh(refreshToken, "::ffff:203.0.113.7");
    expect(first.session?.last_ip_address).toBe("203.0.113.7");
    if (env.REFRESH_GRACE_WINDOW === "0s") {
      // A lost race, not theft: refused without harm.
      const again = await failure(refresh(refreshToken, "203.0.113.7"));
      expect(again.errorInfo?.reason).toBe("CONCURRENT_REFRESH");
    } else {
      const again = await refresh(refreshToken, "203.0.113.7");
      expect(again.tokens?.refresh_token).toBe(first.tokens?.refresh_token);
      const mixed = await refresh(refreshToken, "::FFFF:CB00:7107");
      expect(mixed.tokens?.refresh_token).toBe(first.tokens?.refresh_token);
    }
    expect((await t.session("GetSession", { session_id: id })).session?.state).toBe("SESSION_STATE_ACTIVE");
  });
});

describe("a grace window shorter than the burst window", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ REFRESH_GRACE_WINDOW: "1s", REFRESH_BURST_WINDOW: "5s", REFRESH_GRACE_MAX_REPLAYS: "3" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("answers no replay after the grace window: the parent is then reuse", async () => {
    const created = await t.session("CreateSession", { user_id: "short-grace", user_agent: "app/1" });
    const parent = created.tokens?.refresh_token ?? "";
    const first = await t.token("RefreshTokens", { refresh_token: parent, user_agent: "app/1" });
    await sleep(1_500);
    const late = await failure(t.token("RefreshTokens", { refresh_token: parent, user_agent: "app/1" }));
    expect([late.codeName, late.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_REUSED"]);
    expect((await failure(t.token("RefreshTokens", { refresh_token: first.tokens?.refresh_token ?? "" }))).errorInfo?.reason).toBe("TOKEN_REVOKED");
  });
});
