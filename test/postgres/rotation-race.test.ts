import { query } from "../support/sql.js";
import { afterEach, describe, expect, inject, it } from "vitest";
import { connectClients, type Clients } from "../support/clients.js";
import { createFreshDatabase, type FreshDatabase } from "../support/fresh-database.js";
import { runCli, type ServiceProcess } from "../support/service-process.js";


interface Replicas {
  readonly clients: Clients[];
  stop(): Promise<void>;
}

async function startReplicas(url: string, env: Record<string, string>): Promise<Replicas> {
  const servers: ServiceProcess[] = [];
  for (let i = 0; i < 3; i += 1) servers.push(runCli("serve", { DATABASE_URL: url, LOG_LEVEL: "info", ...env }));
  const ports = await Promise.all(servers.map((server) => server.serving));
  const clients = ports.map(({ grpcPort }) => connectClients(grpcPort));
  return {
    clients,
    async stop() {
      for (const client of clients) client.close();
      for (const server of servers) server.child.kill("SIGTERM");
      await Promise.all(servers.map((server) => server.exited));
    },
  };
}

/** 50 refreshes of one token at once, spread over the replicas. */
async function raceOneToken(replicas: Replicas, refreshToken: string) {
  return Promise.allSettled(
    Array.from({ length: 50 }, (_, i) =>
      (replicas.clients[i % replicas.clients.length] as Clients).token("RefreshTokens", { refresh_token: refreshToken, ip_address: "198.51.100.9" }),
    ),
  );
}

describe("refreshing one token from 50 callers on 3 replicas", () => {
  const databases: FreshDatabase[] = [];
  afterEach(async () => {
    await Promise.all(databases.splice(0).map((database) => database.drop()));
  });
  const freshDatabase = async () => {
    const database = await createFreshDatabase(inject("postgresAdminUrl"));
    databases.push(database);
    return database.url;
  };

  it("with the grace window on, every caller gets the identical successor and one successor row exists", async () => {
    const url = await freshDatabase();
    const replicas = await startReplicas(url, { REFRESH_GRACE_WINDOW: "10s" });
    try {
      const login = await replicas.clients[0]?.session("CreateSession", { user_id: "racer", ip_address: "198.51.100.9" });
      const results = await raceOneToken(replicas, login?.tokens?.refresh_token ?? "");
      const fulfilled = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.tokens?.refresh_token] : []));
      const rejected = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
      expect(rejected).toEqual([]);
      expect(new Set(fulfilled).size).toBe(1);
      const rows = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM refresh_tokens WHERE parent_id IS NOT NULL");
      expect(rows).toEqual([{ n: 1 }]);
      const live = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM refresh_tokens WHERE rotated_at IS NULL AND revoked_at IS NULL");
      expect(live).toEqual([{ n: 1 }]);
      const session = await replicas.clients[1]?.session("GetSession", { session_id: login?.session?.session_id ?? "" });
      expect(session?.session?.state).toBe("SESSION_STATE_ACTIVE");
      const replays = await query<{ reason: string; n: number }>(
        url,
        "SELECT reason, count(*)::int AS n FROM revocation_events WHERE kind = 'grace_replay' GROUP BY reason ORDER BY reason",
      );
      console.info(`grace on: 50 callers on 3 replicas, 1 rotation, replays by kind ${JSON.stringify(replays)}`);
      expect(replays.reduce((sum, row) => sum + row.n, 0)).toBe(49);
    } finally {
      await replicas.stop();
    }
  }, 90_000);

  it("with the grace window off, exactly one caller wins, the others are ABORTED, and the session lives", async () => {
    const url = await freshDatabase();
    const replicas = await startReplicas(url, { REFRESH_GRACE_WINDOW: "0s" });
    try {
      const login = await replicas.clients[0]?.session("CreateSession", { user_id: "racer", ip_address: "198.51.100.9" });
      const results = await raceOneToken(replicas, login?.tokens?.refresh_token ?? "");
      const winners = results.filter((r) => r.status === "fulfilled");
      const losers = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as { code: number; details: string }).code] : []));
      expect(winners).toHaveLength(1);
      expect(losers).toEqual(Array.from({ length: 49 }, () => 10)); // ABORTED
      const session = await replicas.clients[2]?.session("GetSession", { session_id: login?.session?.session_id ?? "" });
      expect(session?.session?.state).toBe("SESSION_STATE_ACTIVE");
      const rows = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM refresh_tokens WHERE parent_id IS NOT NULL");
      expect(rows).toEqual([{ n: 1 }]);
    } finally {
      await replicas.stop();
    }
  }, 90_000);

  it("bumps a user's or the global version with one row write, whatever the number of live tokens", async () => {
    const url = await freshDatabase();
    const replicas = await startReplicas(url, {});
    try {
      await replicas.clients[0]?.session("CreateSession", { user_id: "heavy" });
      // 10,000 more live tokens of that user, written directly: the setup, not the subject.
      await query(url, `
        INSERT INTO sessions (id, user_id, auth_time, created_by, token_version, global_version, expires_at)
        SELECT gen_random_uuid(), 'heavy', now(), 'bench', 0, 0, now() + interval '1 day' FROM generate_series(1, 10000);
        INSERT INTO refresh_tokens (id, session_id, token_hash, token_version, global_version, expires_at)
        SELECT gen_random_uuid(), id, sha256(id::text::bytea), 0, 0, now() + interval '1 day' FROM sessions WHERE created_by = 'bench';`);
      // Updates and deletes: what a bump that rewrote sessions or tokens would
      // show. (Inserts are left out: an idle backend may report the set-up's
      // inserts up to 10 s late.)
      const snapshot = async () => {
        const rows = await query<{ relname: string; written: string }>(url, `
          SELECT relname, (n_tup_upd + n_tup_del)::text AS written FROM pg_stat_user_tables
          WHERE relname IN ('users', 'global_state', 'sessions', 'refresh_tokens')`);
        return Object.fromEntries(rows.map((row) => [row.relname, Number(row.written)]));
      };
      // Backends flush their statistics up to a second late: read until two
      // readings a flush interval apart agree.
      const writes = async () => {
        let previous = await snapshot();
        for (let attempt = 0; attempt < 10; attempt += 1) {
          await new Promise((resolve) => setTimeout(resolve, 1100));
          const current = await snapshot();
          if (JSON.stringify(current) === JSON.stringify(previous)) return current;
          previous = current;
        }
        throw new Error("table statistics never settled");
      };
      const before = await writes();
      await replicas.clients[1]?.token("RevokeUserTokens", { user_id: "heavy", reason: "password_changed" });
      await replicas.clients[2]?.token("RevokeAllTokens", { reason: "breach" });
      // An idle backend may report its writes up to 10 s late: wait until both
      // bumps are visible, then until the counts settle.
      for (let waited = 0; waited < 15_000; waited += 500) {
        const now = await snapshot();
        if ((now["users"] ?? 0) > (before["users"] ?? 0) && (now["global_state"] ?? 0) > (before["global_state"] ?? 0)) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const after = await writes();
      expect({
        users: (after["users"] ?? 0) - (before["users"] ?? 0),
        global_state: (after["global_state"] ?? 0) - (before["global_state"] ?? 0),
        sessions: (after["sessions"] ?? 0) - (before["sessions"] ?? 0),
        refresh_tokens: (after["refresh_tokens"] ?? 0) - (before["refresh_tokens"] ?? 0),
      }).toEqual({ users: 1, global_state: 1, sessions: 0, refresh_tokens: 0 });
      const live = await replicas.clients[0]?.session("ListSessions", { user_id: "heavy" });
      expect(live?.sessions).toEqual([]);
    } finally {
      await replicas.stop();
    }
  }, 90_000);
});
