import path from "node:path";
import { Writable } from "node:stream";
import { loadConfig } from "../../src/config.js";
import { createCallLog, createLogger } from "../../src/logger.js";
import { startService } from "../../src/main.js";
import { connectClients } from "./clients.js";
import { recordLogLine } from "./secret-scan.js";
import { startTestService, TestClock, type TestService } from "./test-service.js";

/** What a restarted service offers: the running one's clients and service, on the first one's data. */
export type RunningTestService = Pick<TestService, "session" | "token" | "sessions" | "tokens" | "service" | "clock">;

export interface RestartableService {
  /** The service running now (a new one after each restart). */
  readonly current: RunningTestService;
  /** Stops the running service (as a deploy or a crash would) and starts a new one on the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A test service that can be restarted on its data: the same PGlite folder,
 * or the same PostgreSQL database (and KEK). Nothing carries over in memory.
 */
export async function startRestartableService(env: Record<string, string> = {}): Promise<RestartableService> {
  const first = await startTestService(env);
  let current: RunningTestService & { close(): void } = first;
  const stopCurrent = async () => {
    current.close();
    await current.service.shutdown();
  };
  return {
    get current() {
      return current;
    },
    async restart() {
      await stopCurrent();
      current = await startOnSameData(first, env);
    },
    async stop() {
      await stopCurrent();
      // Drops the database and removes the folder (its own service is already down).
      await first.stop();
    },
  };
}

async function startOnSameData(first: TestService, env: Record<string, string>) {
  const config = loadConfig({
    DATA_DIR: first.dataDir,
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
    ...(first.databaseUrl === undefined ? {} : { DATABASE_URL: first.databaseUrl, KEK_FILE: path.join(first.dataDir, "kek") }),
    ...env,
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter((text) => text.length > 0)) recordLogLine(line);
      done();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const clock = new TestClock();
  const service = await startService(config, logger, { clock, callLog: createCallLog(logger, sink) });
  return { ...connectClients(service.grpcPort), service, clock };
}
