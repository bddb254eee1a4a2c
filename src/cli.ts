#!/usr/bin/env node
import { ConfigError, loadConfig } from "./config.js";
import { createCallLog, createLogger, stdoutDestination } from "./logger.js";
import { startService } from "./main.js";
import { openDatabase } from "./store/database.js";
import { migrate } from "./store/migrate.js";
import { Store } from "./store/store.js";
import { systemClock } from "./domain/context.js";
import { deleteEndedSessions } from "./domain/enforce-retention.js";
import { DomainError } from "./domain/errors.js";
import { KeyEncryptionError } from "./crypto/key-encryption.js";
import { DataFolderInUseError } from "./store/data-folder-lock.js";
import { ServerCallError } from "./keys-via-server.js";
import { keysUsage, runKeysCommand, UsageError } from "./keys-command.js";
import { OPERATOR_COMMANDS, operatorUsage, runOperatorCommand } from "./operator-commands.js";

const usage = `usage: session-authority [serve | migrate | cleanup | keys … | sessions … | users … | revoke-all | restore-fence | import … | help]

  serve    (default) apply pending migrations, then serve gRPC and the HTTP side port
  migrate  apply pending migrations and exit
  cleanup  delete sessions (and their tokens) that ended longer ago than
           ENDED_SESSION_RETENTION, in batches, and exit (serve also does this
           every RETENTION_SWEEP_INTERVAL)
${keysUsage}
${operatorUsage}

Configuration is read from environment variables; see README.md.`;

async function main(argv: readonly string[]): Promise<number> {
  const command = argv[0] ?? "serve";
  if (command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const operator = (OPERATOR_COMMANDS as readonly string[]).includes(command);
  if (!["serve", "migrate", "cleanup", "keys"].includes(command) && !operator) {
    process.stderr.write(`unknown command "${command}"\n${usage}\n`);
    return 2;
  }
  const config = loadConfig();
  // Command output goes to stdout; logs to stderr so `keys … --json` stays parseable.
  const stdout = command === "serve" ? stdoutDestination() : undefined;
  const logger = createLogger(config.logLevel, command === "keys" || operator ? process.stderr : stdout);
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
  if (operator) {
    return runOperatorCommand(command, argv.slice(1), config, logger, (text) => process.stdout.write(`${text}\n`));
  }
  if (command === "keys") {
    return runKeysCommand(argv.slice(1), config, logger, (text) => process.stdout.write(`${text}\n`));
  }
  if (command === "cleanup") {
    const database = await openDatabase(config.database);
    try {
      const store = new Store(database);
      const deleted = await deleteEndedSessions({ store, clock: systemClock, settings: { ...config.tokens, ...config.sessions } }, Number.POSITIVE_INFINITY);
      logger.info({ deleted }, "ended sessions deleted");
    } finally {
      await database.close();
    }
    return 0;
  }
  const service = await startService(config, logger, stdout === undefined ? {} : { callLog: createCallLog(logger, stdout) });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal: stop waiting for calls. Exiting (not the signal's default) writes out buffered log lines.
        logger.warn({ signal }, "second signal: exiting without waiting for in-flight calls");
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, "shutting down");
      service.shutdown().then(resolve, (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        resolve();
      });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof UsageError || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
      process.stderr.write(`${error.message}\n${error instanceof ConfigError ? "" : `${usage}\n`}`);
      process.exit(2);
    }
    // Failures an operator caused and can fix: the message says how; no stack.
    if (error instanceof DomainError || error instanceof KeyEncryptionError || error instanceof DataFolderInUseError || error instanceof ServerCallError) {
      process.stderr.write(`session-authority: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`session-authority failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
