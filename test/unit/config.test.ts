import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { parseDurationMs } from "../../src/duration.js";

describe("configuration", () => {
  it("has documented defaults", () => {
    const config = loadConfig({});
    expect(config.grpc).toEqual({ host: "127.0.0.1", port: 50051, tls: undefined });
    expect(config.http).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(config.database.url).toBeUndefined();
    expect(config.database.dataDir).toMatch(/\/data$/);
    expect(config.tokens).toMatchObject({ accessTtlMs: 600_000, refreshTtlMs: 14 * 86_400_000, sessionTtlMs: 90 * 86_400_000 });
    expect(config.sessions.maxActivePerUser).toBe(0);
  });

  it("names statements for PostgreSQL to prepare only when DB_PREPARED_STATEMENTS says so", () => {
    expect(loadConfig({}).database.preparedStatements).toBe(false);
    expect(loadConfig({ DB_PREPARED_STATEMENTS: "on" }).database.preparedStatements).toBe(true);
    expect(loadConfig({ DB_PREPARED_STATEMENTS: "false" }).database.preparedStatements).toBe(false);
    expect(() => loadConfig({ DB_PREPARED_STATEMENTS: "yes please" })).toThrow(/DB_PREPARED_STATEMENTS/);
  });

  it("names the variable that is wrong", () => {
    expect(() => loadConfig({ ACCESS_TOKEN_TTL: "ten minutes" })).toThrow(/ACCESS_TOKEN_TTL/);
    expect(() => loadConfig({ DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ API_KEYS: "svc:nothex" })).toThrow(ConfigError);
    expect(() => loadConfig({ POLICY_FILE: "/nonexistent/policy.json" })).toThrow(/POLICY_FILE/);
    expect(() => loadConfig({ KEY_REFRESH_INTERVAL: "1ms" })).toThrow(/KEY_REFRESH_INTERVAL/);
  });

  it("refuses PostgreSQL without a key-encryption key, which the embedded default generates instead", () => {
    expect(() => loadConfig({ DATABASE_URL: "postgresql://db/sessions" })).toThrow(/KEK_FILE: required with DATABASE_URL/);
    expect(loadConfig({ DATABASE_URL: "postgresql://db/sessions", KEK_FILE: "kek" }).signingKeys.kekFile).toMatch(/\/kek$/);
    expect(loadConfig({}).signingKeys).toMatchObject({ kekFile: undefined, jwksMaxAgeMs: 300_000, refreshIntervalMs: 10_000 });
  });

  it("takes TLS files in pairs and trusted sidecars as addresses, CIDRs or identities", () => {
    expect(() => loadConfig({ TLS_CERT_FILE: "server.crt" })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE/);
    expect(() => loadConfig({ TLS_CLIENT_CA_FILE: "ca.crt" })).toThrow(/TLS_CLIENT_CA_FILE/);
    expect(loadConfig({ TLS_CERT_FILE: "s.crt", TLS_KEY_FILE: "s.key", TLS_CLIENT_CA_FILE: "ca.crt" }).grpc.tls).toMatchObject({
      certFile: expect.stringMatching(/\/s\.crt$/),
      clientCaFile: expect.stringMatching(/\/ca\.crt$/),
      reloadIntervalMs: 10_000,
    });
    const proxies = loadConfig({ TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8, ::1, spiffe://cluster.local/ns/istio-system/sa/ingress, edge-proxy" }).callers.trustedProxies;
    expect([...proxies.identities]).toEqual(["spiffe://cluster.local/ns/istio-system/sa/ingress", "edge-proxy"]);
    expect(proxies.addresses.check("10.9.8.7", "ipv4")).toBe(true);
    expect(proxies.addresses.check("11.0.0.1", "ipv4")).toBe(false);
    expect(proxies.addresses.check("::1", "ipv6")).toBe(true);
    expect(() => loadConfig({ TRUSTED_PROXIES: "10.0.0.0/40" })).toThrow(/TRUSTED_PROXIES/);
  });

  it("parses durations the way operators write them", () => {
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("30")).toBe(30_000);
    expect(parseDurationMs("10m")).toBe(600_000);
    expect(parseDurationMs("14d")).toBe(14 * 86_400_000);
    expect(parseDurationMs("1.5h")).toBe(5_400_000);
    expect(parseDurationMs("-1s")).toBeUndefined();
    expect(parseDurationMs("1w")).toBeUndefined();
  });
});
