// Prisma 6.19.3 config, read ONLY by `npm run migration:new` (scripts/migration-new.mjs),
// which runs `node_modules/prisma6/build/index.js migrate diff` in this folder.
// Prisma 7 never reads it (its config is looked up in the project root).
//
// Prisma 6's WebAssembly schema engine talks to PostgreSQL through a driver
// adapter; here that is an in-memory PGlite, so authoring a migration needs
// no network, no native engine and no database server.
//
// A plain object on purpose: Prisma 7's `defineConfig` would drop the
// `experimental`/`engine`/`adapter` keys that Prisma 6 needs.
//
// Why not `adapter: async () => new PrismaPGlite(new PGlite())` as is:
// `--from-migrations` replays every migration.sql on a shadow database, and the
// schema engine sends each whole script through `executeRaw` with no
// arguments. pglite-prisma-adapter 0.7.2 runs every statement through PGlite's
// extended protocol, which refuses multi-statement scripts ("cannot insert
// multiple commands into a prepared statement"; @prisma/adapter-pg has no such
// problem because `pg` uses the simple protocol for argument-less queries).
// `scriptAware` routes argument-less statements to `PGlite.exec` (simple
// protocol) and makes `executeScript` await its work, keeping the adapter's own
// error conversion so Prisma reports the real PostgreSQL error.
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";

type Adapter = Awaited<ReturnType<PrismaPGlite["connect"]>>;

function scriptAware(db: PGlite, adapter: Adapter): Adapter {
  const executeRaw = adapter.executeRaw.bind(adapter);
  // The adapter's (untyped) onError turns PGlite errors into DriverAdapterErrors.
  const fail = (error: unknown): never => {
    const onError = (adapter as unknown as { onError?: (e: unknown) => never }).onError;
    if (typeof onError === "function") onError.call(adapter, error);
    throw error;
  };
  adapter.executeRaw = async (query) => {
    if (query.args.length > 0) return executeRaw(query);
    try {
      const results = await db.exec(query.sql);
      return results.reduce((rows, result) => rows + (result.affectedRows ?? 0), 0);
    } catch (error) {
      return fail(error);
    }
  };
  adapter.executeScript = async (script) => {
    try {
      await db.exec(script);
    } catch (error) {
      fail(error);
    }
  };
  return adapter;
}

export default {
  experimental: { adapter: true },
  engine: "js",
  // No `schema` key: the script passes the schema copy with --to-schema-datamodel.
  adapter: async () => {
    const main = new PGlite();
    return {
      provider: "postgres" as const,
      adapterName: "pglite-prisma-adapter",
      connect: async () => scriptAware(main, await new PrismaPGlite(main).connect()),
      connectToShadowDb: async () => {
        const shadow = new PGlite();
        return scriptAware(shadow, await new PrismaPGlite(shadow).connect());
      },
    };
  },
};
