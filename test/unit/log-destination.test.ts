import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createCallLog, createLogger } from "../../src/logger.js";
import { waitUntil } from "../support/wait.js";

describe("the logger and the access log on one batched destination", () => {
  let dir = "";
  afterEach(async () => {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("writes whole lines in order, the logger's own at once, the access log's at the latest when flushed", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "sa-log-"));
    const file = path.join(dir, "out.log");
    // As stdoutDestination, on a file.
    const destination = pino.destination({ dest: file, sync: false, minLength: 4096, periodicFlush: 1000, mkdir: true });
    await new Promise((resolve) => destination.once("ready", resolve));
    const logger = createLogger("info", destination);
    const callLog = createCallLog(logger, destination);
    callLog.info({ n: 0, method: "/m" }, "call");
    logger.warn({ refresh_token: "sa_rt_secret" }, "own line");
    // The logger's line goes out at once (well before the 1 s periodic flush), with the call line before it, and still redacted.
    await waitUntil(async () => (await readFile(file, "utf8").catch(() => "")).includes("own line"), 500);
    const early = (await readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(early.map((line) => line["msg"])).toEqual(["call", "own line"]);
    expect(early[1]?.["refresh_token"]).toBe("[redacted]");
    for (let n = 1; n <= 3_000; n += 1) {
      callLog.info({ n, method: "/m", pad: "x".repeat(n % 200) }, "call");
      if (n % 100 === 0) logger.info({ n }, "own line");
    }
    destination.flushSync();
    const lines = (await readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const calls = lines.filter((line) => line["msg"] === "call").map((line) => line["n"]);
    expect(calls).toEqual(Array.from({ length: 3_001 }, (_, n) => n));
    expect(lines.filter((line) => line["msg"] === "own line")).toHaveLength(31);
    destination.end();
  });
});
