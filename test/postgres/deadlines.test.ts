import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../support/clients.js";
import { query } from "../support/sql.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { sleep, waitUntil } from "../support/wait.js";

// Deadlines need a second connection holding a lock, so they are shown on PostgreSQL.
describe("client deadlines reach the database", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const url = () => t.databaseUrl ?? "";

  function refresh(refreshToken: string, deadlineMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      t.tokens.RefreshTokens({ refresh_token: refreshToken }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) =>
        error ? reject(error) : resolve(response?.tokens?.refresh_token ?? ""),
      );
    });
  }

  it("cancels a transaction stuck past the caller's deadline, so it never commits later", async () => {
    const created = await t.session("CreateSession", { user_id: "deadline-lock" });
    const sessionId = created.session?.session_id ?? "";
    const parent = created.tokens?.refresh_token ?? "";
    const locker = new pg.Client({ connectionString: url() });
    await locker.connect();
    try {
      // Another transaction holds the token's row, as a slow concurrent rotation would.
      await locker.query("BEGIN");
      await locker.query("SELECT id FROM refresh_tokens WHERE session_id = $1 FOR UPDATE", [sessionId]);
      const late = await failure(refresh(parent, 400));
      expect(late.codeName).toBe("DEADLINE_EXCEEDED");
      // The database itself gave up the wait: nothing of ours is left queued behind the lock.
      await waitUntil(async () => {
        const [row] = await query<{ waiting: number }>(url(), "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()");
        return row?.waiting === 0;
      }, 5_000);
      await locker.query("ROLLBACK");
    } finally {
      await locker.end();
    }
    await sleep(200);
    const tokens = await query<{ rotated: boolean }>(url(), "SELECT rotated_at IS NOT NULL AS rotated FROM refresh_tokens WHERE session_id = $1", [sessionId]);
    expect(tokens).toEqual([{ rotated: false }]);
    // The retry is a plain first rotation.
    const successor = await refresh(parent, 5_000);
    expect(successor).not.toBe(parent);
    expect((await t.session("GetSession", { session_id: sessionId })).session?.state).toBe("SESSION_STATE_ACTIVE");
  });

  it("under deadlines too short to trust, retries of the same token lose nothing and revoke nothing", { timeout: 60_000 }, async () => {
    const holders: { sessionId: string; token: string }[] = [];
    for (let i = 0; i < 8; i += 1) {
      const created = await t.session("CreateSession", { user_id: `deadline-load-${i}` });
      holders.push({ sessionId: created.session?.session_id ?? "", token: created.tokens?.refresh_token ?? "" });
    }
    const codes = new Map<string, number>();
    const until = Date.now() + 3_000;
    let seed = 20261123;
    const nextDeadline = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return 1 + (seed % 80);
    };
    await Promise.all(
      holders.map(async (holder) => {
        while (Date.now() < until) {
          try {
            holder.token = await refresh(holder.token, nextDeadline());
            codes.set("OK", (codes.get("OK") ?? 0) + 1);
          } catch (error) {
            // As a client does: the same token again after a deadline.
            const name = grpc.status[(error as grpc.ServiceError).code] ?? "?";
            codes.set(name, (codes.get(name) ?? 0) + 1);
          }
        }
      }),
    );
    const ids = holders.map((holder) => holder.sessionId);
    const [replays] = await query<{ grace: number }>(url(), "SELECT count(*)::int AS grace FROM revocation_events WHERE kind = 'grace_replay' AND session_id = ANY($1::uuid[])", [ids]);
    console.info(`deadline load: ${JSON.stringify(Object.fromEntries(codes))}, grace replays ${replays?.grace ?? 0}`);
    expect(codes.get("DEADLINE_EXCEEDED") ?? 0).toBeGreaterThan(0);
    expect([...codes.keys()].filter((code) => !["OK", "DEADLINE_EXCEEDED"].includes(code))).toEqual([]);
    // Each holder's newest token works; no session died of a false reuse; never two live tokens.
    for (const holder of holders) {
      await waitUntil(async () => {
        try {
          holder.token = await refresh(holder.token, 5_000);
          return true;
        } catch (error) {
          // A successor minted by a call whose answer was lost is only reachable through the grace window.
          if ((error as grpc.ServiceError).code === grpc.status.DEADLINE_EXCEEDED) return false;
          throw error;
        }
      });
    }
    const [state] = await query<{ revoked: number; two_live: number }>(
      url(),
      `SELECT (SELECT count(*)::int FROM sessions WHERE id = ANY($1::uuid[]) AND revoked_at IS NOT NULL) AS revoked,
              (SELECT count(*)::int FROM (SELECT session_id FROM refresh_tokens WHERE session_id = ANY($1::uuid[])
                 AND rotated_at IS NULL AND revoked_at IS NULL GROUP BY session_id HAVING count(*) > 1) x) AS two_live`,
      [ids],
    );
    expect(state).toEqual({ revoked: 0, two_live: 0 });
  });
});
