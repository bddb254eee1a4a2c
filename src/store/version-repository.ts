import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

/** Version bumps: each is one write to one row, whatever the number of tokens it kills. */
export class VersionRepository {
  constructor(private readonly db: Db) {}

  async bumpUserVersion(userId: string, reason: string): Promise<bigint> {
    const rows = await this.db.$queryRaw<{ token_version: bigint }[]>`
      INSERT INTO users (user_id, token_version, token_version_reason, token_version_bumped_at)
      VALUES (${userId}, 1, ${reason}, now())
      ON CONFLICT (user_id) DO UPDATE SET token_version = users.token_version + 1,
        token_version_reason = EXCLUDED.token_version_reason, token_version_bumped_at = now(), updated_at = now()
      RETURNING token_version`;
    const row = rows[0];
    if (row === undefined) throw new Error("user version bump returned no row");
    return row.token_version;
  }

  /**
   * Adds 1 to the global version, or raises it to `atLeast` when that is
   * higher (the restore fence; see fenceAfterRestore). Raw: "the larger of
   * current + 1 and a floor" in one atomic UPDATE; Prisma's update can
   * increment or set, not both.
   */
  async bumpGlobalVersion(reason: string, atLeast = 0n): Promise<bigint> {
    const rows = await this.db.$queryRaw<{ global_version: bigint }[]>`
      UPDATE global_state SET global_version = GREATEST(global_version + 1, ${atLeast}), reason = ${reason}, bumped_at = now(), updated_at = now()
      WHERE id = 1 RETURNING global_version`;
    const row = rows[0];
    if (row === undefined) throw new Error("global_state row is missing");
    return row.global_version;
  }
}
