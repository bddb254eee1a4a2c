import pg from "pg";
import { query } from "../support/sql.js";
import { afterEach, describe, expect, inject, it } from "vitest";
import { readMigrations } from "../../src/store/migrate.js";
import { connectClients } from "../support/clients.js";
import { createFreshDatabase, type FreshDatabase } from "../support/fresh-database.js";
import { healthCheck } from "../support/health.js";
import { runCli } from "../support/service-process.js";


describe("several processes on one PostgreSQL", () => {
  const databases: FreshDatabase[] = [];
  const freshDatabase = async () => {
    const database = await createFreshDatabase(inject("postgresAdminUrl"));
    databases.push(database);
    return database.url;
  };
  afterEach(async () => {
    await Promise.all(databases.splice(0).map((database) => database.drop()));
  });

  it("3 `migrate` commands started together leave one correct schema", async () => {
    const url = await freshDatabase();
    const runs = Array.from({ length: 3 }, () => runCli("migrate", { DATABASE_URL: url }));
    expect(await Promise.all(runs.map((run) => run.exited))).toEqual([0, 0, 0]);
    const applied = await query<{ migration_name: string; finished_at: Date | null }>(url, `SELECT migration_name, finished_at FROM "_prisma_migrations" ORDER BY 1`);
    expect(applied.map((row) => row.migration_name)).toEqual((await readMigrations()).map((migration) => migration.name));
    expect(applied.every((row) => row.finished_at !== null)).toBe(true);
    const tables = await query<{ table_name: string }>(url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
    expect(tables.map((row) => row.table_name)).toEqual([
      "_prisma_migrations", "audit_events", "global_state", "refresh_tokens", "revocation_events", "service_secrets", "sessions", "signing_keys", "users",
    ]);
    expect(await query(url, "SELECT id, global_version FROM global_state")).toEqual([{ id: 1, global_version: "0" }]);
  }, 60_000);

  it("the cleanup command deletes ended sessions and exits 0", async () => {
    const url = await freshDatabase();
    expect(await runCli("migrate", { DATABASE_URL: url }).exited).toBe(0);
    await query(url, `
      INSERT INTO users (user_id) VALUES ('old');
      INSERT INTO sessions (id, user_id, auth_time, created_by, token_version, global_version, expires_at, revoked_at)
      VALUES (gen_random_uuid(), 'old', now(), 'x', 0, 0, now() + interval '1 day', now() - interval '40 days'),
             (gen_random_uuid(), 'old', now(), 'x', 0, 0, now() + interval '1 day', now() - interval '1 day')`);
    const cleanup = runCli("cleanup", { DATABASE_URL: url });
    expect(await cleanup.exited).toBe(0);
    expect(cleanup.output.join("\n")).toContain('"deleted":1');
    expect(await query(url, "SELECT count(*)::int AS n FROM sessions")).toEqual([{ n: 1 }]);
  }, 60_000);

  it("3 servers started together on an empty database share one schema and exactly one signing key", async () => {
    const url = await freshDatabase();
    const servers = Array.from({ length: 3 }, () => runCli("serve", { DATABASE_URL: url }));
    try {
      const ports = await Promise.all(servers.map((server) => server.serving));
      expect(await query(url, `SELECT count(*)::int AS n FROM "_prisma_migrations"`)).toEqual([{ n: (await readMigrations()).length }]);
      expect(await query(url, `SELECT count(*)::int AS n FROM service_secrets`)).toEqual([{ n: 1 }]);
      expect(await query(url, `SELECT count(*)::int AS n, count(*) FILTER (WHERE kek_id IS NOT NULL AND private_jwk IS NULL)::int AS wrapped FROM signing_keys`)).toEqual([{ n: 1, wrapped: 1 }]);
      const kids = await Promise.all(
        ports.map(async ({ grpcPort }) => {
          const clients = connectClients(grpcPort);
          try {
            return (await clients.token("GetJwks", {})).keys.map((key) => key.kid);
          } finally {
            clients.close();
          }
        }),
      );
      expect(new Set(kids.flat()).size).toBe(1);
      // A session created on one replica is visible on another.
      const a = connectClients(ports[0]?.grpcPort ?? 0);
      const b = connectClients(ports[1]?.grpcPort ?? 0);
      const created = await a.session("CreateSession", { user_id: "across-replicas" });
      expect((await b.session("GetSession", { session_id: created.session?.session_id ?? "" })).session?.user_id).toBe("across-replicas");
      a.close();
      b.close();
    } finally {
      for (const server of servers) server.child.kill("SIGTERM");
      expect(await Promise.all(servers.map((server) => server.exited))).toEqual([0, 0, 0]);
    }
  }, 60_000);

  it("on SIGTERM turns health NOT_SERVING, lets the in-flight call finish, and exits 0", async () => {
    const url = await freshDatabase();
    const server = runCli("serve", { DATABASE_URL: url, SHUTDOWN_DRAIN_DELAY: "2s", SHUTDOWN_TIMEOUT: "20s" });
    const { grpcPort } = await server.serving;
    const clients = connectClients(grpcPort);
    // Hold the user's row lock so the login below is still running when SIGTERM arrives.
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query("INSERT INTO users (user_id) VALUES ('draining') ON CONFLICT DO NOTHING");
    await blocker.query("SELECT 1 FROM users WHERE user_id = 'draining' FOR UPDATE");
    const inFlight = clients.session("CreateSession", { user_id: "draining" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await healthCheck(grpcPort)).toBe("NOT_SERVING");
    await blocker.query("COMMIT");
    await blocker.end();
    const created = await inFlight;
    expect(created.session?.user_id).toBe("draining");
    clients.close();
    expect(await server.exited).toBe(0);
  }, 60_000);
});
