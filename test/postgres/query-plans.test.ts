import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../support/sql.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { waitUntil } from "../support/wait.js";

const BULK = 5_000;

interface IndexUse {
  readonly indexrelname: string;
  readonly idx_scan: string;
  readonly idx_tup_read: string;
}

// A table nobody has analyzed yet (a fresh install, a bulk import, before
// autoanalyze runs) is where a plan goes wrong without anyone noticing: the
// rotation's guarded UPDATE once scanned every live token there (95 ms per
// rotation at 100,000 sessions, found by `npm run bench`).
describe("the rotation's plan on a table with no statistics", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const url = () => t.databaseUrl ?? "";
  const indexUse = async () =>
    new Map(
      (
        await query<IndexUse>(
          url(),
          `SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes
            WHERE indexrelname IN ('refresh_tokens_pkey', 'refresh_tokens_one_live_per_session')`,
        )
      ).map((row) => [row.indexrelname, { scans: Number(row.idx_scan), tuplesRead: Number(row.idx_tup_read) }]),
    );

  it("finds the token by its primary key, not by reading every live token", async () => {
    const created = await t.session("CreateSession", { user_id: "plan-holder" });
    await query(url(), "ALTER TABLE refresh_tokens SET (autovacuum_enabled = false)");
    await query(
      url(),
      `WITH users AS (INSERT INTO users (user_id) SELECT 'plan-user-' || n FROM generate_series(1, $1) n RETURNING user_id),
            sessions AS (INSERT INTO sessions (id, user_id, auth_time, created_by, token_version, global_version, expires_at)
                         SELECT gen_random_uuid(), user_id, now(), 'anonymous', 0, 0, now() + interval '1 day' FROM users RETURNING id)
       INSERT INTO refresh_tokens (id, session_id, token_hash, token_version, global_version, expires_at)
       SELECT gen_random_uuid(), id, sha256(id::text::bytea), 0, 0, now() + interval '1 day' FROM sessions`,
      [BULK],
    );
    const [{ analyzed }] = await query<{ analyzed: boolean }>(url(), "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'refresh_tokens'") as [{ analyzed: boolean }];
    expect(analyzed).toBe(false);

    const before = await indexUse();
    await t.token("RefreshTokens", { refresh_token: created.tokens?.refresh_token ?? "" });
    // Index statistics reach other sessions once the server's connection reports them (within seconds):
    // wait for either index to show the rotation, so a bad plan fails on the assertion below, not on a timeout.
    const moved = (now: Map<string, { scans: number; tuplesRead: number }>, name: string) =>
      (now.get(name)?.scans ?? 0) > (before.get(name)?.scans ?? 0) || (now.get(name)?.tuplesRead ?? 0) > (before.get(name)?.tuplesRead ?? 0);
    await waitUntil(async () => {
      const now = await indexUse();
      return moved(now, "refresh_tokens_pkey") || moved(now, "refresh_tokens_one_live_per_session");
    }, 20_000);
    const after = await indexUse();
    const liveIndexReads = (after.get("refresh_tokens_one_live_per_session")?.tuplesRead ?? 0) - (before.get("refresh_tokens_one_live_per_session")?.tuplesRead ?? 0);
    expect(liveIndexReads).toBeLessThan(BULK / 10);
  });
});
