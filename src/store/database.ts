import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.js";
import { lockDataFolder } from "./data-folder-lock.js";

export type Prisma = PrismaClient;

// A raw connection for what Prisma cannot do: multi-statement migration
// scripts and session-level advisory locks, which must stay on one connection.
export interface ScriptConnection {
  exec(script: string): Promise<void>;
  query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface ListenHandlers {
  onNotify(): void;
  /** Listening (again): notifications from here on will arrive. */
  onConnected(): void;
  /** The connection is gone: notifications may be missed until onConnected. */
  onLost(error: unknown): void;
}

export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly prisma: Prisma;
  withScriptConnection<T>(fn: (connection: ScriptConnection) => Promise<T>): Promise<T>;
  /** LISTENs on `channel` until the returned function is called, reconnecting after losses. */
  listen(channel: string, handlers: ListenHandlers, retryDelayMs: number): () => Promise<void>;
  /** The connection pool's use right now; undefined for PGlite, which has one connection and no pool. */
  poolUse(): PoolUse | undefined;
  close(): Promise<void>;
}

export interface PoolUse {
  readonly max: number;
  /** Connections open, idle or lent out. */
  readonly open: number;
  readonly idle: number;
  /** Queries and transactions waiting for a connection. */
  readonly waiting: number;
}

/**
 * Prisma's other formats capture a stack trace (`new Error()`) on every query
 * to point at the calling line when it fails; only "minimal" skips that
 * (it is the default under NODE_ENV=production alone). Every Prisma error is
 * mapped to a gRPC status by the store and the handlers, so the code frame
 * was never shown, and the capture cost ~0.04 ms of CPU per query.
 */
const ERROR_FORMAT = "minimal";

const LISTENER_APPLICATION_NAME = "session-authority-listener";
// A connection that silently died (no FIN: a partition, a frozen host) is
// noticed by a query that does not answer in time.
const LISTENER_PING_MS = 2_000;
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * LISTEN needs one dedicated session for as long as we listen: Prisma's pool
 * hands connections out per query, and a transaction-mode pooler would drop
 * the registration. So a plain pg.Client of its own, pinged, and re-opened
 * with backoff when lost.
 */
function listenOnPostgres(url: string, channel: string, handlers: ListenHandlers, retryDelayMs: number): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let ping: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = retryDelayMs;

  const lose = (error: unknown) => {
    if (client === undefined) return;
    const lost = client;
    client = undefined;
    clearInterval(ping);
    lost.removeAllListeners("notification");
    lost.end().catch(() => undefined);
    handlers.onLost(error);
    schedule();
  };
  const schedule = () => {
    if (stopped) return;
    retry = setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
  };
  const connect = async () => {
    if (stopped) return;
    const candidate = new pg.Client({ connectionString: url, application_name: LISTENER_APPLICATION_NAME, keepAlive: true, connectionTimeoutMillis: 5_000 });
    // An error with no listener would crash the process.
    candidate.on("error", (error) => (client === candidate ? lose(error) : undefined));
    candidate.on("end", () => (client === candidate ? lose(new Error("listener connection ended")) : undefined));
    try {
      await candidate.connect();
      await candidate.query(`LISTEN "${channel.replace(/"/g, "")}"`);
    } catch (error) {
      candidate.end().catch(() => undefined);
      handlers.onLost(error);
      schedule();
      return;
    }
    if (stopped) {
      await candidate.end().catch(() => undefined);
      return;
    }
    client = candidate;
    delay = retryDelayMs;
    candidate.on("notification", () => handlers.onNotify());
    ping = setInterval(() => {
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("listener ping timed out")), LISTENER_PING_MS).unref());
      Promise.race([candidate.query("SELECT 1"), timeout]).catch((error: unknown) => (client === candidate ? lose(error) : undefined));
    }, LISTENER_PING_MS);
    ping.unref();
    handlers.onConnected();
  };
  void connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    clearInterval(ping);
    const current = client;
    client = undefined;
    await current?.end().catch(() => undefined);
  };
}

export interface DatabaseOptions {
  readonly url: string | undefined;
  readonly dataDir: string;
  readonly poolSize: number;
  /** Named prepared statements (DB_PREPARED_STATEMENTS); PostgreSQL only. */
  readonly preparedStatements?: boolean;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url === undefined ? openPglite(options.dataDir) : openPostgres(options.url, options.poolSize, options.preparedStatements === true);
}

/**
 * A statement's name is the hash of its text, so each connection parses and
 * plans a statement once and reuses the plan. Off by default: a
 * transaction-mode pooler (PgBouncer before 1.21, or without
 * max_prepared_statements) hands a later statement a server connection that
 * never prepared it. Each connection keeps one entry per distinct statement text.
 */
const statementNames = new Map<string, string>();
function statementName(query: { sql: string }): string {
  let name = statementNames.get(query.sql);
  if (name === undefined) {
    name = `sa_${createHash("sha256").update(query.sql).digest("hex").slice(0, 24)}`;
    statementNames.set(query.sql, name);
  }
  return name;
}

function openPostgres(url: string, poolSize: number, preparedStatements: boolean): Database {
  // A bounded wait for a connection: an exhausted pool or an unreachable
  // server becomes UNAVAILABLE instead of a call that hangs past its deadline.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
  // A connection the database terminates (restart, failover, admin command)
  // emits 'error' on its client, and an 'error' event with no listener kills
  // the process. The pool listens only while a client is idle, and the Prisma
  // adapter only inside a transaction, so a client between the two could crash
  // the server: give every client a listener for its whole life. The failure
  // itself still reaches whichever query was running, as UNAVAILABLE.
  pool.on("connect", (client) => client.on("error", () => undefined));
  pool.on("error", () => undefined);
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool, preparedStatements ? { statementNameGenerator: statementName } : undefined),
    errorFormat: ERROR_FORMAT,
  });
  return {
    kind: "postgres",
    prisma,
    listen: (channel, handlers, retryDelayMs) => listenOnPostgres(url, channel, handlers, retryDelayMs),
    poolUse: () => ({ max: poolSize, open: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async withScriptConnection(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          async exec(script) {
            // No parameters → simple query protocol, which accepts many statements.
            await client.query(script);
          },
          async query<Row>(sql: string, params: readonly unknown[] = []) {
            const result = await client.query(sql, [...params]);
            return result.rows as Row[];
          },
        });
      } finally {
        client.release();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const unlock = lockDataFolder(dataDir);
  // Loaded only here: replicas on PostgreSQL never pay for PGlite's module in memory.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import("@electric-sql/pglite"), import("pglite-prisma-adapter")]);
  const pglite = new PGlite(dataDir);
  try {
    await pglite.waitReady;
  } catch (error) {
    unlock();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), errorFormat: ERROR_FORMAT });
  return {
    kind: "pglite",
    prisma,
    // One process owns the database, so its own notifications are all there is.
    listen(channel, handlers) {
      const unlisten = pglite.listen(channel, () => handlers.onNotify());
      unlisten.then(() => handlers.onConnected(), (error: unknown) => handlers.onLost(error));
      return async () => {
        await (await unlisten.catch(() => undefined))?.();
      };
    },
    poolUse: () => undefined,
    async withScriptConnection(fn) {
      return fn({
        async exec(script) {
          await pglite.exec(script);
        },
        async query<Row>(sql: string, params: readonly unknown[] = []) {
          const result = await pglite.query<Row>(sql, [...params]);
          return result.rows;
        },
      });
    },
    async close() {
      await prisma.$disconnect();
      // PGlite keeps a timer alive until closed; an unclosed instance hangs exit.
      await pglite.close();
      unlock();
    },
  };
}
