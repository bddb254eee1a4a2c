import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeRetryDelayMs } from "../../src/grpc/status.js";
import { apiKeyMetadata, apiKeysSetting } from "../support/clients.js";
import { healthCheck } from "../support/health.js";
import { writePolicyFile } from "../support/policy-file.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { sleep } from "../support/wait.js";
import type * as grpc from "@grpc/grpc-js";

describe("per-caller rate limits", () => {
  let t: TestService;
  const keys = { "web-app": "web-app-key-0123456789", "bulk-importer": "bulk-importer-key-0123" };
  beforeAll(async () => {
    // The policy file can raise one caller's rate above RATE_LIMIT.
    const policy = await writePolicyFile({ "web-app": ["*"], "bulk-importer": ["*"] }, { rateLimits: { "bulk-importer": 1000 } });
    t = await startTestService({ API_KEYS: apiKeysSetting(keys), POLICY_FILE: policy, RATE_LIMIT: "3", RATE_LIMIT_BURST: "3" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const jwks = (caller: keyof typeof keys) => t.token("GetJwks", {}, apiKeyMetadata(keys[caller]));

  it("refuses a caller over its rate with RESOURCE_EXHAUSTED and a retry delay, leaving other callers and probes alone", async () => {
    for (let i = 0; i < 3; i += 1) await jwks("web-app");
    const refused = await jwks("web-app").then(
      () => undefined,
      (error: grpc.ServiceError) => error,
    );
    expect(refused?.code).toBe(8);
    expect(refused?.details).toContain("retry in");
    const delayMs = decodeRetryDelayMs(refused?.metadata);
    expect(delayMs).toBeGreaterThan(0);
    expect(delayMs).toBeLessThanOrEqual(334);
    for (let i = 0; i < 10; i += 1) await jwks("bulk-importer");
    expect(await healthCheck(t.service.grpcPort)).toBe("SERVING");
    // After the delay it may call again.
    await sleep((delayMs ?? 0) + 20);
    expect((await jwks("web-app")).keys.length).toBeGreaterThan(0);
  });
});
