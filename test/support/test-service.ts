import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { inject } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { Clock } from "../../src/domain/context.js";
import { createCallLog, createLogger } from "../../src/logger.js";
import { startService, type RunningService } from "../../src/main.js";
import { connectClients, type Clients } from "./clients.js";
import { createFreshDatabase } from "./fresh-database.js";
import { writeKekFile } from "./kek.js";
import { recordLogLine, rememberSecret } from "./secret-scan.js";

export type Backend = "pglite" | "postgres";

export const backend: Backend = process.env["TEST_BACKEND"] === "postgres" ? "postgres" : "pglite";

/** A clock tests move by hand, so expiry and coalescing need no sleeping. */
export class TestClock implements Clock {
  private current = Date.now();
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export interface TestService extends Clients {
  readonly service: RunningService;
  readonly clock: TestClock;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** Every log line the service wrote, for checks that no secret leaks. */
  readonly logLines: string[];
  stop(): Promise<void>;
}

/**
 * Starts the real service in this process on free ports, against a fresh
 * PGlite folder or a fresh PostgreSQL database, with real gRPC clients.
 */
export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "sa-test-"));
  const database = backend === "postgres" ? await createFreshDatabase(inject("postgresAdminUrl")) : undefined;
  const config = loadConfig({
    DATA_DIR: dataDir,
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
    ...(database === undefined ? {} : { DATABASE_URL: database.url, KEK_FILE: writeKekFile(dataDir) }),
    ...env,
  });
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = chunk.toString("utf8").split("\n").filter((line) => line.length > 0);
      logLines.push(...lines);
      for (const line of lines) recordLogLine(line);
      done();
    },
  });
  const clock = new TestClock();
  const logger = createLogger(config.logLevel, sink);
  const service = await startService(config, logger, { clock, callLog: createCallLog(logger, sink) });
  // The KEK the embedded default generated (or the one written above) is a secret too.
  rememberSecret((await readFile(config.signingKeys.kekFile ?? path.join(dataDir, "kek"), "utf8")).trim());
  const clients = connectClients(service.grpcPort);
  return {
    ...clients,
    service,
    clock,
    databaseUrl: database?.url,
    dataDir,
    logLines,
    async stop() {
      clients.close();
      await service.shutdown();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
