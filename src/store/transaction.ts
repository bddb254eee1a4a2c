import { DatabaseUnavailableError, DeadlineExceededError } from "./errors.js";
import type { Prisma } from "./database.js";

// Every transaction of the service runs through here, so retry and error
// classification are decided once.

export type TransactionClient = Parameters<Parameters<Prisma["$transaction"]>[0]>[0];

const MAX_ATTEMPTS = 4;

/**
 * Raw because Prisma has no setting for it: `statement_timeout` for this
 * transaction only (set_config's `true`), so a statement waiting on a lock
 * is cancelled by the database itself when the caller's deadline passes,
 * and the transaction rolls back instead of committing after the caller left.
 */
async function limitStatements(tx: TransactionClient, remaining: number): Promise<void> {
  await tx.$queryRaw`SELECT set_config('statement_timeout', ${timeoutSetting(remaining)}, true)`;
}

/** Milliseconds left as a `statement_timeout`/`lock_timeout` value: whole and never 0, which would mean "none". */
export function timeoutSetting(remainingMs: number | undefined): string | null {
  return remainingMs === undefined ? null : String(Math.max(1, Math.ceil(remainingMs)));
}

/** Milliseconds the caller still waits, or undefined when it set no deadline. */
export type RemainingTime = () => number | undefined;

/**
 * `deadlineMs`: epoch ms when the caller stops waiting; Infinity for none.
 * With `deadlineInFirstStatement` the work's first statement sets the
 * transaction's timeouts itself (from `remaining`), saving the round trip
 * that would set them first: the hot paths do.
 */
export async function inTransaction<T>(
  prisma: Prisma,
  deadlineMs: number,
  work: (tx: TransactionClient, remaining: RemainingTime) => Promise<T>,
  isolationLevel?: "RepeatableRead",
  { deadlineInFirstStatement = false }: { deadlineInFirstStatement?: boolean } = {},
): Promise<T> {
  const remainingMs = () => deadlineMs - Date.now();
  for (let attempt = 1; ; attempt += 1) {
    const remaining = remainingMs();
    if (remaining <= 0) throw new DeadlineExceededError("the call's deadline passed before its transaction began");
    try {
      return await prisma.$transaction(
        async (tx) => {
          // Measured again here: waiting for a pooled connection spent some of it.
          const left = remainingMs();
          if (left <= 0) throw new DeadlineExceededError("the call's deadline passed while its transaction waited for a connection");
          if (Number.isFinite(left) && !deadlineInFirstStatement) await limitStatements(tx, left);
          const result = await work(tx, () => (Number.isFinite(deadlineMs) ? remainingMs() : undefined));
          // The caller stops waiting at its deadline: work that finished later rolls back instead of committing.
          if (remainingMs() <= 0) throw new DeadlineExceededError("the call's deadline passed before its transaction could commit");
          return result;
        },
        {
          maxWait: Math.min(5_000, remaining),
          timeout: Math.min(15_000, remaining),
          ...(isolationLevel === undefined ? {} : { isolationLevel }),
        },
      );
    } catch (error) {
      // Past the deadline, whatever failed was rolled back and the caller has gone: say so, do not retry.
      // A lock or statement timeout is the deadline too: only the deadline sets them, and they may fire a millisecond early.
      if (remainingMs() <= 0 || (Number.isFinite(deadlineMs) && isTimeout(error))) {
        throw new DeadlineExceededError("the call's deadline passed; its transaction was rolled back", { cause: error });
      }
      const kind = classifyDatabaseError(error);
      // Serialization failures and deadlocks are the database asking us to try
      // again; the work function is pure apart from its queries, so it can be re-run.
      if (kind === "conflict" && attempt < MAX_ATTEMPTS) {
        await sleep(5 * 2 ** attempt * Math.random());
        continue;
      }
      throw translateDatabaseError(error);
    }
  }
}

/** Turns driver and Prisma failures that mean "the database is not there" into one error. */
export function translateDatabaseError(error: unknown): unknown {
  const kind = classifyDatabaseError(error);
  if (kind === "unavailable" || kind === "conflict") {
    return new DatabaseUnavailableError(kind === "conflict" ? "transaction conflict persisted" : "database unavailable", {
      cause: error,
    });
  }
  return error;
}

const conflictCodes = new Set(["P2034", "40001", "40P01"]);
// lock_not_available (lock_timeout) and query_canceled (statement_timeout).
const timeoutCodes = new Set(["55P03", "57014"]);

function isTimeout(error: unknown): boolean {
  for (const item of causeChain(error)) {
    const code = stringField(item, "code") ?? stringField(item, "originalCode");
    if (code !== undefined && timeoutCodes.has(code)) return true;
  }
  return false;
}
const unavailablePrismaCodes = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2028"]);
const unavailableSqlStates = new Set(["57P01", "57P02", "57P03", "53300", "53100", "53200", "08000", "08003", "08006", "08001", "08004", "25006"]);
const unavailableNodeCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);
const unavailableAdapterKinds = new Set(["DatabaseNotReachable", "DatabaseDoesNotExist", "SocketTimeout", "ConnectionClosed", "TransactionAlreadyClosed", "TooManyConnections"]);

export function classifyDatabaseError(error: unknown): "conflict" | "unavailable" | "other" {
  for (const item of causeChain(error)) {
    const code = stringField(item, "code");
    const originalCode = stringField(item, "originalCode");
    const kind = stringField(item, "kind");
    if ((code && conflictCodes.has(code)) || (originalCode && conflictCodes.has(originalCode))) return "conflict";
    if (kind === "TransactionWriteConflict") return "conflict";
    if (code && (unavailablePrismaCodes.has(code) || unavailableSqlStates.has(code) || unavailableNodeCodes.has(code))) {
      return "unavailable";
    }
    if (originalCode && unavailableSqlStates.has(originalCode)) return "unavailable";
    if (kind && unavailableAdapterKinds.has(kind)) return "unavailable";
    const message = item instanceof Error ? item.message : "";
    if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Unable to start a transaction in the given time|the database system is (shutting down|starting up)/i.test(message)) {
      return "unavailable";
    }
  }
  return "other";
}

function* causeChain(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    yield current;
    if (typeof current === "object") {
      const meta = (current as { meta?: unknown }).meta;
      if (meta && typeof meta === "object") yield* causeChain((meta as { driverAdapterError?: unknown }).driverAdapterError);
      current = (current as { cause?: unknown }).cause;
    } else {
      return;
    }
  }
}

function stringField(value: unknown, field: string): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const found = (value as Record<string, unknown>)[field];
  return typeof found === "string" ? found : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
