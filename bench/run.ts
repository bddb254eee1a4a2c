// npm run bench: throughput and latency of the implemented RPCs, measured in
// one run beside a floor (the no-op health check on the same server), so the
// numbers are read as ratios on a shared, noisy machine. The server runs in
// its own process; this process only generates load.
//
//   BENCH_SECONDS=10 BENCH_CONCURRENCY=32 npm run bench
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { SessionVerifier } from "../clients/ts/src/index.js";
import { connectClients, type Clients } from "../test/support/clients.js";
import { startEmbeddedPostgres } from "../test/support/embedded-postgres.js";
import { check, healthClient } from "../test/support/health.js";
import { runCli, type ServiceProcess } from "../test/support/service-process.js";

const seconds = Number(process.env["BENCH_SECONDS"] ?? 8);
const concurrency = Number(process.env["BENCH_CONCURRENCY"] ?? 32);
const POOL = 10_000;

interface Result {
  scenario: string;
  backend: string;
  requests: number;
  errors: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
}

async function drive(scenario: string, backend: string, operation: (i: number) => Promise<unknown>): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const warmupEnd = Date.now() + 1000;
  while (Date.now() < warmupEnd) await operation(next++).catch(() => undefined);
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await operation(next++);
          latencies.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
  return { scenario, backend, requests: latencies.length, errors, rps: Math.round(latencies.length / elapsed), p50_ms: at(0.5), p99_ms: at(0.99), p999_ms: at(0.999) };
}

async function benchServer(backend: string, env: Record<string, string>): Promise<Result[]> {
  const server: ServiceProcess = runCli("serve", { DB_POOL_SIZE: "16", ...env });
  const { grpcPort, httpPort } = await server.serving;
  const clients: Clients = connectClients(grpcPort);
  try {
    const results: Result[] = [];
    const health = healthClient(grpcPort);
    results.push(await drive("floor: health check (no-op)", backend, () => check(health)));
    health.close();
    const sessions: string[] = [];
    const refreshTokens: string[] = [];
    const accessTokens: string[] = [];
    results.push(
      await drive("CreateSession", backend, async (i) => {
        const response = await clients.session("CreateSession", { user_id: `user-${i % POOL}`, ip_address: "203.0.113.9", user_agent: "bench" });
        if (sessions.length < POOL) {
          sessions.push(response.session?.session_id ?? "");
          refreshTokens.push(response.tokens?.refresh_token ?? "");
          accessTokens.push(response.tokens?.access_token ?? "");
        }
      }),
    );
    results.push(
      await drive("RefreshTokens", backend, async (i) => {
        const slot = i % refreshTokens.length;
        const response = await clients.token("RefreshTokens", { refresh_token: refreshTokens[slot] ?? "", ip_address: "203.0.113.9", user_agent: "bench" });
        refreshTokens[slot] = response.tokens?.refresh_token ?? "";
      }),
    );
    const pick = (i: number) => sessions[i % sessions.length] ?? "";
    const token = (i: number) => accessTokens[i % accessTokens.length] ?? "";
    results.push(await drive("VerifyAccessToken (EdDSA, cache)", backend, (i) => clients.token("VerifyAccessToken", { access_token: token(i) })));
    const jwksUrl = `http://127.0.0.1:${httpPort}/.well-known/jwks.json`;
    const jwks = createLocalJWKSet((await (await fetch(jwksUrl)).json()) as JSONWebKeySet);
    results.push(
      await drive("floor: jose EdDSA verify, this process", backend, (i) => jwtVerify(token(i), jwks, { issuer: "session-authority", audience: "platform" })),
    );
    const verifier = await SessionVerifier.start({ target: `127.0.0.1:${grpcPort}`, jwksUrl });
    try {
      results.push(
        await drive("embedded verifier (clients/ts, EdDSA, local)", backend, async (i) => {
          const result = await verifier.verify(token(i));
          if (!result.valid || result.source !== "local") throw new Error(`not verified locally: ${JSON.stringify(result)}`);
        }),
      );
    } finally {
      verifier.close();
    }
    results.push(await drive("GetSession", backend, (i) => clients.session("GetSession", { session_id: pick(i) })));
    results.push(await drive("ListSessions", backend, (i) => clients.session("ListSessions", { user_id: `user-${i % POOL}`, page_size: 10 })));
    results.push(await drive("TouchSession (coalesced)", backend, (i) => clients.session("TouchSession", { session_id: pick(i) })));
    return results;
  } finally {
    clients.close();
    server.child.kill("SIGTERM");
    await server.exited;
  }
}

async function main() {
  const postgres = await startEmbeddedPostgres();
  const dataDir = await mkdtemp(path.join(tmpdir(), "sa-bench-"));
  try {
    const results = [
      ...(await benchServer("postgres", { DATABASE_URL: postgres.url })),
      ...(await benchServer("pglite", { DATA_DIR: dataDir })),
    ];
    console.table(results);
    for (const backend of ["postgres", "pglite"]) {
      const floor = results.find((r) => r.backend === backend && r.scenario.startsWith("floor"))?.rps ?? 1;
      for (const r of results.filter((x) => x.backend === backend && !x.scenario.startsWith("floor"))) {
        console.log(`${backend} ${r.scenario}: ${(r.rps / floor).toFixed(2)} × the no-op floor`);
      }
    }
    await mkdir("bench/results", { recursive: true });
    const report = { date: new Date().toISOString(), seconds, concurrency, results };
    await writeFile("bench/results/latest.json", `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
