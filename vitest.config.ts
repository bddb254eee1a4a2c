import { defineConfig } from "vitest/config";

// Projects: unit tests and the Dockerfile replay (e2e) once, and the same integration suites against the
// embedded default (PGlite) and a real PostgreSQL the set-up starts itself
// (or TEST_DATABASE_URL). test/postgres/ holds what only a server can show:
// several processes on one database.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    // Every test file ends by searching every log line for every secret it used.
    setupFiles: ["test/support/secret-scan.setup.ts"],
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        extends: true,
        test: { name: "pglite", include: ["test/integration/**/*.test.ts"], env: { TEST_BACKEND: "pglite" } },
      },
      { extends: true, test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], testTimeout: 600_000 } },
      {
        extends: true,
        test: {
          name: "postgres",
          include: ["test/integration/**/*.test.ts", "test/postgres/**/*.test.ts"],
          env: { TEST_BACKEND: "postgres" },
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
