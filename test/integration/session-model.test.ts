import { afterAll, beforeAll, describe, it } from "vitest";
import { startModelSystem, type ModelSystem } from "../support/model-system.js";
import { checkModel, modelRunOptions, type ModelSettings } from "../support/session-model.js";
import { backend } from "../support/test-service.js";

// The model-based test of issue 18: random sequences of logins (with and
// without idempotency keys), refreshes from the owner, another spelling of
// its address, a thief or another caller, replays of any earlier token now,
// after the burst or after the grace window, organisation switches, session,
// user and global revocations, account deletion and restarts, each answer
// held to a plain in-memory model. `npm test` runs the fixed seed below;
// `npm run test:model` runs longer (MODEL_SEED, MODEL_RUNS, MODEL_COMMANDS).

const GRACE_ON: ModelSettings = { graceMs: 2_000, burstMs: 800, maxReplays: 2 };
const GRACE_OFF: ModelSettings = { graceMs: 0, burstMs: 800, maxReplays: 2 };
const envOf = (settings: ModelSettings) => ({
  REFRESH_GRACE_WINDOW: `${settings.graceMs}ms`,
  REFRESH_BURST_WINDOW: `${settings.burstMs}ms`,
  REFRESH_GRACE_MAX_REPLAYS: String(settings.maxReplays),
});

describe.each([
  ["grace on", GRACE_ON, { numRuns: 12, maxCommands: 40 }],
  ["grace off", GRACE_OFF, { numRuns: 6, maxCommands: 30 }],
])("the service against its model, one server (%s)", (_name, settings, size) => {
  let system: ModelSystem;
  beforeAll(async () => {
    system = await startModelSystem({ backend, replicas: 1, env: envOf(settings), withVerifiers: false });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it("accepts a token only while the model says it is live, and answers every presentation as ADR 013's table says", async () => {
    await checkModel(system, settings, { ...modelRunOptions(size), withVerifiers: false });
  }, 900_000);
});
