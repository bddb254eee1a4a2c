import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { packageRoot } from "../package-root.js";
import type { Database, ScriptConnection } from "./database.js";

// Applies the Prisma migration folders with our own runner, because the
// Prisma 7 CLI needs a native engine that cannot always be downloaded. The
// bookkeeping is Prisma's own `_prisma_migrations` table, so `prisma migrate
// status` still works against the same database.

// Prisma's own advisory lock key: our runner and `prisma migrate deploy`
// exclude each other as well as replicas starting together.
const MIGRATION_LOCK_KEY = 72707369;

const defaultMigrationsDir = path.join(packageRoot, "prisma", "migrations");

const createBookkeepingTable = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface Migration {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

export async function readMigrations(dir: string = defaultMigrationsDir): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

/** Applies pending migrations; returns the names applied by this call. */
export async function migrate(database: Database, migrations?: readonly Migration[]): Promise<string[]> {
  const all = migrations ?? (await readMigrations());
  return database.withScriptConnection(async (connection) => {
    await connection.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await connection.exec(createBookkeepingTable);
      return await applyPending(connection, all);
    } finally {
      await connection.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  });
}

async function applyPending(connection: ScriptConnection, migrations: readonly Migration[]): Promise<string[]> {
  const rows = await connection.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
  );
  const applied = new Map(rows.map((row) => [row.migration_name, row]));
  const done: string[] = [];
  for (const migration of migrations) {
    const previous = applied.get(migration.name);
    if (previous?.finished_at == null && previous !== undefined) {
      throw new MigrationError(`migration ${migration.name} started earlier but did not finish; resolve it before starting`);
    }
    if (previous !== undefined) {
      if (previous.checksum !== migration.checksum) {
        throw new MigrationError(`migration ${migration.name} was changed after it was applied`);
      }
      continue;
    }
    // Script and bookkeeping row commit together: a crash leaves neither.
    await connection.exec("BEGIN");
    try {
      await connection.exec(migration.sql);
      await connection.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), now(), 1)`,
        [randomUUID(), migration.checksum, migration.name],
      );
      await connection.exec("COMMIT");
    } catch (error) {
      await connection.exec("ROLLBACK");
      throw new MigrationError(`migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    done.push(migration.name);
  }
  return done;
}
