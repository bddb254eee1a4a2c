import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../generated/prisma/client.js";
import { lockDataFolder } from "./data-folder-lock.js";

export type Prisma = PrismaClient;

// A raw connection for what Prisma cannot do: multi-statement migration
// scripts and session-level advisory locks, which must stay on one connection.
export interface ScriptConnection {
  exec(script: string): Promise<void>;
  query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly prisma: Prisma;
  withScriptConnection<T>(fn: (connection: ScriptConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  readonly url: string | undefined;
  readonly dataDir: string;
  readonly poolSize: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url === undefined ? openPglite(options.dataDir) : openPostgres(options.url, options.poolSize);
}

function openPostgres(url: string, poolSize: number): Database {
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
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: "postgres",
    prisma,
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
  const pglite = new PGlite(dataDir);
  try {
    await pglite.waitReady;
  } catch (error) {
    unlock();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: "pglite",
    prisma,
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
