import type { Prisma } from "../../src/store/database.js";

/**
 * Writes `count` sessions of one user, revoked just now, with one
 * INSERT … SELECT generate_series through the service's own database client
 * (on PGlite the service holds the only connection). Ids are as long as the
 * service accepts (256 characters), so their size is the worst case.
 */
export async function seedRevokedSessions(database: Prisma, count: number): Promise<{ userId: string; orgId: string }> {
  const userId = `bulk-${"u".repeat(251)}`;
  const orgId = `org-${"o".repeat(252)}`;
  await database.$executeRaw`INSERT INTO users (user_id) VALUES (${userId}) ON CONFLICT DO NOTHING`;
  await database.$executeRaw`
    INSERT INTO sessions (id, user_id, active_org_id, auth_time, created_by, token_version, global_version, expires_at, revoked_at, revoke_reason)
    SELECT gen_random_uuid(), ${userId}, ${orgId}, now(), 'seed', 0, 0, now() + interval '1 day', now(), ${"r".repeat(64)}
    FROM generate_series(1, ${count}::int)`;
  return { userId, orgId };
}
