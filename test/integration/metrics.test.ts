import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { failure } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

/** The value of one sample in a Prometheus text exposition, or undefined when absent. */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of exposition.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const present = (match[2] ?? "").split(",").filter((pair) => pair !== "");
    if (wanted.every((pair) => present.includes(pair))) return Number(match[3]);
  }
  return undefined;
}

describe("/metrics", () => {
  let t: TestService;
  let scrape: () => Promise<string>;

  beforeAll(async () => {
    t = await startTestService();
    scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${t.service.httpPort}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/plain");
      return response.text();
    };
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("counts rotations by outcome, revocations by kind, live sessions, and RPCs by code with latency", async () => {
    const client = { user_agent: "metrics-test", ip_address: "203.0.113.9" };
    const logins = [];
    for (const user of ["m-ann", "m-bob", "m-cy"]) logins.push(await t.session("CreateSession", { user_id: user, ...client }));
    const first = logins[0]?.tokens?.refresh_token ?? "";
    await t.token("RefreshTokens", { refresh_token: first, ...client });
    await t.token("RefreshTokens", { refresh_token: first, ...client }); // inside the grace window: a replay
    await failure(t.token("RefreshTokens", { refresh_token: "sa_rt_not-a-real-token" }));
    await t.session("RevokeSession", { session_id: logins[2]?.session?.session_id ?? "", reason: "logout" });

    const metrics = await scrape();
    expect(sample(metrics, "session_authority_refresh_rotations_total", { outcome: "rotated" })).toBe(1);
    expect(sample(metrics, "session_authority_refresh_rotations_total", { outcome: "grace_replay" })).toBe(1);
    expect(sample(metrics, "session_authority_refresh_rotations_total", { outcome: "unknown_token" })).toBe(1);
    // Outcomes that did not happen are there too, at 0, so rate() over them works.
    expect(sample(metrics, "session_authority_refresh_rotations_total", { outcome: "reuse_detected" })).toBe(0);
    expect(sample(metrics, "session_authority_revocations_total", { kind: "session_revoked" })).toBe(1);
    expect(sample(metrics, "session_authority_active_sessions")).toBe(2);

    const refresh = { grpc_method: "/sessionauthority.v1.TokenService/RefreshTokens" };
    expect(sample(metrics, "grpc_server_handled_total", { ...refresh, grpc_code: "OK" })).toBe(2);
    expect(sample(metrics, "grpc_server_handled_total", { ...refresh, grpc_code: "UNAUTHENTICATED" })).toBe(1);
    expect(sample(metrics, "grpc_server_handling_seconds_count", refresh)).toBe(3);
    expect(sample(metrics, "grpc_server_handling_seconds_bucket", { ...refresh, le: "+Inf" })).toBe(3);
  });

  it("reports the verification cache's hit ratio and how late revocations reach it", async () => {
    const login = await t.session("CreateSession", { user_id: "m-dee" });
    const accessToken = login.tokens?.access_token ?? "";
    // The cache is current once the feed has been read after start.
    await vi.waitFor(async () => expect(sample(await scrape(), "session_authority_verification_cache_current")).toBe(1));
    for (let i = 0; i < 4; i++) await t.token("VerifyAccessToken", { access_token: accessToken });
    const before = sample(await scrape(), "session_authority_revocation_event_lag_seconds_count") ?? 0;
    await t.session("RevokeSession", { session_id: login.session?.session_id ?? "", reason: "logout" });

    await vi.waitFor(async () => expect(sample(await scrape(), "session_authority_revocation_event_lag_seconds_count")).toBeGreaterThan(before));
    const metrics = await scrape();
    const ratio = sample(metrics, "session_authority_verification_cache_hit_ratio") ?? -1;
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThanOrEqual(1);
    expect(sample(metrics, "session_authority_verification_cache_lookups_total", { result: "hit" })).toBeGreaterThanOrEqual(4);
  });

  it("reports the database pool on PostgreSQL, and the process", async () => {
    const metrics = await scrape();
    if (t.databaseUrl !== undefined) {
      expect(sample(metrics, "session_authority_db_pool_connections", { state: "max" })).toBe(10);
      expect(sample(metrics, "session_authority_db_pool_connections", { state: "open" })).toBeGreaterThan(0);
      expect(sample(metrics, "session_authority_db_pool_connections", { state: "waiting" })).toBe(0);
    } else {
      // PGlite is one connection in this process: there is no pool to report.
      expect(metrics).not.toContain("session_authority_db_pool_connections");
    }
    expect(sample(metrics, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(sample(metrics, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(sample(metrics, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
  });
});
