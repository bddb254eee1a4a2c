import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/service-process.js";

describe("the command line", () => {
  it("exits non-zero naming the variable when a setting is invalid", async () => {
    const run = runCli("serve", { GRPC_PORT: "not-a-port" });
    expect(await run.exited).toBe(2);
    expect(run.output.join("\n")).toContain("GRPC_PORT");
  });

  it("refuses to listen beyond loopback without API keys", async () => {
    const run = runCli("serve", { GRPC_HOST: "0.0.0.0", DATA_DIR: await mkdtemp(path.join(tmpdir(), "sa-cli-")) });
    expect(await run.exited).toBe(2);
    expect(run.output.join("\n")).toContain("API_KEYS");
  });

  it("rejects an unknown command with usage", async () => {
    const run = runCli("frobnicate", {});
    expect(await run.exited).toBe(2);
    expect(run.output.join("\n")).toContain("usage: session-authority");
  });
});
