import * as grpc from "@grpc/grpc-js";
import { query } from "../support/sql.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClients, type Clients } from "../support/clients.js";
import { startEmbeddedPostgres, type RunningPostgres } from "../support/embedded-postgres.js";
import { runCli } from "../support/service-process.js";

// Each test owns a PostgreSQL it can stop and start, apart from the suite's.


/** Every rotation either happened whole or not at all. */
async function rotationInvariants(url: string) {
  const [row] = await query<{ two_live: number; orphan_rotations: number; revoked_sessions: number }>(url, `
    SELECT
      (SELECT count(*)::int FROM (SELECT session_id FROM refresh_tokens WHERE rotated_at IS NULL AND revoked_at IS NULL
                                  GROUP BY session_id HAVING count(*) > 1) x) AS two_live,
      (SELECT count(*)::int FROM refresh_tokens p WHERE p.rotated_at IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_id = p.id)) AS orphan_rotations,
      (SELECT count(*)::int FROM sessions WHERE revoked_at IS NOT NULL) AS revoked_sessions`);
  return row;
}

interface Holder {
  token: string;
}

/**
 * Refresh loops, one per session, as clients do: on UNAVAILABLE or a deadline
 * they retry the same token (the grace window makes that safe).
 */
function refreshLoad(clients: Clients, holders: Holder[], until: () => boolean) {
  const codes = new Map<string, number>();
  const done = Promise.all(
    holders.map(async (holder) => {
      while (!until()) {
        try {
          const response = await new Promise<string>((resolve, reject) => {
            clients.tokens.RefreshTokens(
              { refresh_token: holder.token },
              new grpc.Metadata(),
              { deadline: Date.now() + 2_000 },
              (error, value) => (error ? reject(error) : resolve(value?.tokens?.refresh_token ?? "")),
            );
          });
          holder.token = response;
          codes.set("OK", (codes.get("OK") ?? 0) + 1);
        } catch (error) {
          const name = grpc.status[(error as grpc.ServiceError).code] ?? "?";
          codes.set(name, (codes.get(name) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }),
  );
  return { codes, done };
}

describe("faults during a refresh load", () => {
  let postgres: RunningPostgres;
  beforeAll(async () => {
    postgres = await startEmbeddedPostgres();
  });
  afterAll(async () => {
    await postgres?.stop();
  });

  it("answers UNAVAILABLE while PostgreSQL is down, loses nothing, and recovers within 5 s without a restart", { timeout: 120_000 }, async () => {
    const url = postgres.url;
    const server = runCli("serve", { DATABASE_URL: url });
    const { grpcPort } = await server.serving;
    const clients = connectClients(grpcPort);
    try {
      const holders: Holder[] = [];
      for (let i = 0; i < 16; i += 1) {
        holders.push({ token: (await clients.session("CreateSession", { user_id: `outage-${i}` })).tokens?.refresh_token ?? "" });
      }
      let phase: "before" | "down" | "after" | "stop" = "before";
      const load = refreshLoad(clients, holders, () => phase === "stop");
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const okBefore = load.codes.get("OK") ?? 0;
      await postgres.halt();
      phase = "down";
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const duringOutage = new Map(load.codes);
      await postgres.resume();
      const resumedAt = Date.now();
      phase = "after";
      const okAtResume = load.codes.get("OK") ?? 0;
      while ((load.codes.get("OK") ?? 0) <= okAtResume && Date.now() - resumedAt < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const recoveryMs = Date.now() - resumedAt;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      phase = "stop";
      await load.done;
      console.info(`outage: ok before ${okBefore}, codes ${JSON.stringify(Object.fromEntries(load.codes))}, recovered in ${recoveryMs} ms`);
      if (recoveryMs >= 5_000) console.info(`server log tail:\n${server.output.slice(-40).join("\n")}`);
      expect(okBefore).toBeGreaterThan(0);
      // The server survived the outage (it once crashed on a client's unhandled 'error').
      expect(server.child.exitCode).toBeNull();
      expect(duringOutage.get("UNAVAILABLE") ?? 0).toBeGreaterThan(0);
      expect([...load.codes.keys()].filter((code) => !["OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"].includes(code))).toEqual([]);
      expect(recoveryMs).toBeLessThan(5_000);
      expect(await rotationInvariants(url)).toEqual({ two_live: 0, orphan_rotations: 0, revoked_sessions: 0 });
      // Every client still holds a working token: no session was lost to a false reuse.
      for (const holder of holders) {
        expect((await clients.token("RefreshTokens", { refresh_token: holder.token })).session?.state).toBe("SESSION_STATE_ACTIVE");
      }
    } finally {
      clients.close();
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });

  it("leaves no session with two live tokens when the server is killed mid-load", async () => {
    const url = postgres.url;
    const first = runCli("serve", { DATABASE_URL: url });
    const clients = connectClients((await first.serving).grpcPort);
    const holders: Holder[] = [];
    for (let i = 0; i < 16; i += 1) {
      holders.push({ token: (await clients.session("CreateSession", { user_id: `killed-${i}` })).tokens?.refresh_token ?? "" });
    }
    let stop = false;
    const load = refreshLoad(clients, holders, () => stop);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    first.child.kill("SIGKILL");
    await first.exited;
    stop = true;
    await load.done;
    clients.close();
    const second = runCli("serve", { DATABASE_URL: url });
    const again = connectClients((await second.serving).grpcPort);
    try {
      expect(await rotationInvariants(url)).toEqual({ two_live: 0, orphan_rotations: 0, revoked_sessions: 0 });
      for (const holder of holders) {
        expect((await again.token("RefreshTokens", { refresh_token: holder.token })).session?.state).toBe("SESSION_STATE_ACTIVE");
      }
    } finally {
      again.close();
      second.child.kill("SIGTERM");
      await second.exited;
    }
  }, 120_000);
});
