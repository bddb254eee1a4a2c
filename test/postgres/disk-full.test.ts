import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../support/clients.js";
import { startEmbeddedPostgres, type RunningPostgres } from "../support/embedded-postgres.js";
import { query } from "../support/sql.js";
import { startTestService, type TestService } from "../support/test-service.js";

// A real full disk: the service's database lives in a tablespace on a small
// tmpfs, which the test fills. Mounting needs root on Linux (CI runs as root);
// elsewhere the test is skipped and says so.
const canMount = process.platform === "linux" && process.getuid?.() === 0;

function fill(dir: string): string {
  const filler = path.join(dir, "filler");
  const fd = openSync(filler, "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
  return filler;
}

describe.skipIf(!canMount)("a full disk", () => {
  let postgres: RunningPostgres;
  let mount: string;
  let url: string;
  let t: TestService;

  beforeAll(async () => {
    mount = mkdtempSync(path.join(tmpdir(), "sa-tiny-disk-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mount]);
    postgres = await startEmbeddedPostgres();
    // The server runs as the `postgres` system user, which must own the tablespace folder.
    execFileSync("chown", ["postgres", mount]);
    await query(postgres.url, `CREATE TABLESPACE tiny LOCATION '${mount}'`);
    await query(postgres.url, "CREATE DATABASE on_tiny_disk TABLESPACE tiny");
    url = postgres.url.replace(/\/postgres$/, "/on_tiny_disk");
    t = await startTestService({ DATABASE_URL: url });
  });
  afterAll(async () => {
    await t?.stop();
    await postgres?.stop();
    if (mount !== undefined) {
      try {
        execFileSync("umount", [mount]);
      } finally {
        rmSync(mount, { recursive: true, force: true });
      }
    }
  });

  it("answers UNAVAILABLE when writes find no space, keeps every answered write whole, and works again once space is back", { timeout: 120_000 }, async () => {
    const early = await t.session("CreateSession", { user_id: "disk-early" });
    const filler = fill(mount);

    const outcomes = new Map<string, number>();
    const created: string[] = [];
    for (let i = 0; i < 300; i += 1) {
      try {
        const response = await t.session("CreateSession", { user_id: `disk-full-${i}`, device_name: "x".repeat(200) });
        created.push(response.session?.session_id ?? "");
        outcomes.set("OK", (outcomes.get("OK") ?? 0) + 1);
      } catch (error) {
        const refused = await failure(Promise.reject(error));
        const key = `${refused.codeName}/${refused.errorInfo?.reason ?? ""}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
    }
    let refresh: string;
    try {
      refresh = (await t.token("RefreshTokens", { refresh_token: early.tokens?.refresh_token ?? "" })).tokens?.refresh_token ?? "";
    } catch (error) {
      const refused = await failure(Promise.reject(error));
      expect(refused.codeName).toBe("UNAVAILABLE");
      refresh = early.tokens?.refresh_token ?? "";
    }
    console.info(`full disk: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expect(outcomes.get("UNAVAILABLE/DATABASE_UNAVAILABLE") ?? 0).toBeGreaterThan(0);
    expect([...outcomes.keys()].filter((key) => !["OK", "UNAVAILABLE/DATABASE_UNAVAILABLE"].includes(key))).toEqual([]);

    rmSync(filler);
    expect((await t.session("CreateSession", { user_id: "disk-after" })).session?.state).toBe("SESSION_STATE_ACTIVE");
    expect((await t.token("RefreshTokens", { refresh_token: refresh })).session?.state).toBe("SESSION_STATE_ACTIVE");
    // Exactly the answered logins exist, each whole: a session and one live token.
    const [counts] = await query<{ sessions: number; whole: number }>(
      url,
      `SELECT (SELECT count(*)::int FROM sessions WHERE user_id LIKE 'disk-full-%') AS sessions,
              (SELECT count(*)::int FROM sessions s WHERE s.user_id LIKE 'disk-full-%'
                 AND (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id AND r.rotated_at IS NULL AND r.revoked_at IS NULL) = 1) AS whole`,
    );
    expect(counts).toEqual({ sessions: created.length, whole: created.length });
  });
});
