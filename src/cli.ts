#!/usr/bin/env node
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startService } from "./main.js";
import { openDatabase } from "./store/database.js";
import { migrate } from "./store/migrate.js";
import { Store } from "./store/store.js";
import { systemClock } from "./domain/context.js";
import { deleteEndedSessions } from "./domain/enforce-retention.js";

const usage = `usage: session-authority [serve | migrate | cleanup | help]

  serve    (default) apply pending migrations, then serve gRPC and the HTTP side port
  migrate  apply pending migrations and exit
  cleanup  delete sessions (and their tokens) that ended longer ago than
           ENDED_SESSION_RETENTION, in batches, and exit (serve also does this
           every RETENTION_SWEEP_INTERVAL)

Configuration is read from environment variables; see README.md.`;

async function main(argv: readonly string[]): Promise<number> {
  const command = argv[0] ?? "serve";
  if (command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (command !== "serve" && command !== "migrate" && command !== "cleanup") {
    process.stderr.write(`unknown command "${command}"\n${usage}\n`);
    return 2;
  }
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (command === "migrate") {
    const database = await openDatabase(config.database);
    try {
      const applied = await migrate(database);
      logger.info({ backend: database.kind, applied }, applied.length === 0 ? "schema is up to date" : "migrations applied");
    } finally {
      await database.close();
    }
    return 0;
  }
  if (command === "cleanup") {
    const database = await openDatabase(config.database);
    try {
      const store = new Store(database);
      const deleted = await deleteEndedSessions({ store, clock: systemClock, settings: config.sessions }, Number.POSITIVE_INFINITY);
      logger.info({ deleted }, "ended sessions deleted");
    } finally {
      await database.close();
    }
    return 0;
  }
  const service = await startService(config, logger);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down");
      service.shutdown().then(resolve, (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        resolve();
      });
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`session-authority failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
