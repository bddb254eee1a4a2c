import { afterAll, beforeAll, describe, it } from "vitest";
import { startModelSystem, type ModelSystem } from "../support/model-system.js";
import { checkModel, modelRunOptions, type ModelSettings } from "../support/session-model.js";

// The model-based test's second run: three replicas on one PostgreSQL, each
// restarted at random, and two embedded verifiers (every organisation, and
// org-a only) whose stream the test cuts and restores. Every command goes to
// a replica of its choosing; every answer, and every verifier's, is held to
// the same model as the one-server run (test/integration/session-model.test.ts).

const SETTINGS: ModelSettings = { graceMs: 2_000, burstMs: 800, maxReplays: 2 };

describe("the service against its model, three replicas and embedded verifiers", () => {
  let system: ModelSystem;
  beforeAll(async () => {
    system = await startModelSystem({
      backend: "postgres",
      replicas: 3,
      withVerifiers: true,
      env: {
        REFRESH_GRACE_WINDOW: `${SETTINGS.graceMs}ms`,
        REFRESH_BURST_WINDOW: `${SETTINGS.burstMs}ms`,
        REFRESH_GRACE_MAX_REPLAYS: String(SETTINGS.maxReplays),
        WATCH_HEARTBEAT_INTERVAL: "200ms",
      },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("no replica and no verifier accepts a token the model says is dead, whatever the order of events", async () => {
    await checkModel(system, SETTINGS, { ...modelRunOptions({ numRuns: 10, maxCommands: 40 }), withVerifiers: true });
  }, 900_000);
});
