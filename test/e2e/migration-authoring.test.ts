import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

async function migrationNew(name: string, schema: string, migrationsDir: string) {
  try {
    const { stdout, stderr } = await run("npm", ["run", "-s", "migration:new", "--", name], {
      env: { ...process.env, MIGRATION_SCHEMA: schema, MIGRATIONS_DIR: migrationsDir },
      timeout: 180_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}

describe("authoring migrations offline", () => {
  const folders: string[] = [];
  afterAll(async () => {
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  });

  it("finds the committed migrations in step with prisma/schema.prisma", async () => {
    const work = await mkdtemp(path.join(tmpdir(), "sa-migrations-"));
    folders.push(work);
    await cp("prisma/migrations", path.join(work, "migrations"), { recursive: true });
    const result = await migrationNew("drift_check", path.resolve("prisma/schema.prisma"), path.join(work, "migrations"));
    expect(result.output).toContain("no schema changes");
    expect(result.code).toBe(1);
  }, 200_000);

  it("writes the next migration from a schema change", async () => {
    const work = await mkdtemp(path.join(tmpdir(), "sa-migrations-"));
    folders.push(work);
    await cp("prisma/migrations", path.join(work, "migrations"), { recursive: true });
    const schema = (await readFile("prisma/schema.prisma", "utf8")).replace(
      '  location                String?\n',
      '  location                String?\n  timezone                String?\n',
    );
    expect(schema).toContain("timezone");
    await writeFile(path.join(work, "schema.prisma"), schema);
    const before = await readdir(path.join(work, "migrations"));
    const result = await migrationNew("add_timezone", path.join(work, "schema.prisma"), path.join(work, "migrations"));
    expect(result.code, result.output).toBe(0);
    const added = (await readdir(path.join(work, "migrations"))).filter((entry) => !before.includes(entry));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^\d{14}_add_timezone$/);
    const sql = await readFile(path.join(work, "migrations", added[0] ?? "", "migration.sql"), "utf8");
    expect(sql).toContain('ALTER TABLE "sessions" ADD COLUMN     "timezone" TEXT;');
  }, 200_000);
});
