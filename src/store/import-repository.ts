import { randomUUID } from "node:crypto";
import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

/** One refresh token from another system, known only by its SHA-256. */
export interface ImportedToken {
  readonly userId: string;
  readonly hash: Buffer;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly sessionExpiresAt: Date;
  readonly activeOrgId: string | null;
  readonly deviceName: string | null;
  readonly userAgent: string | null;
  readonly ipAddress: string | null;
}

/** Sessions and refresh tokens brought in from another system (`session-authority import`). */
export class ImportRepository {
  constructor(private readonly db: Db) {}

  /**
   * One session per token, stamped with its user's current versions (so a
   * later bump kills it like any other), created by the caller that will
   * present the tokens. A hash already stored is skipped: re-running an
   * import adds nothing.
   */
  async importTokens(tokens: readonly ImportedToken[], createdBy: string, refreshTtlSeconds: number): Promise<{ imported: number; skipped: number }> {
    const stored = await this.db.refreshToken.findMany({ where: { tokenHash: { in: tokens.map((token) => new Uint8Array(token.hash)) } }, select: { tokenHash: true } });
    const seen = new Set(stored.map((row) => Buffer.from(row.tokenHash).toString("hex")));
    const fresh = tokens.filter((token) => {
      const key = token.hash.toString("hex");
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (fresh.length === 0) return { imported: 0, skipped: tokens.length };
    const userIds = [...new Set(fresh.map((token) => token.userId))];
    await this.db.user.createMany({ data: userIds.map((userId) => ({ userId })), skipDuplicates: true });
    const [users, global] = await Promise.all([
      this.db.user.findMany({ where: { userId: { in: userIds } }, select: { userId: true, tokenVersion: true } }),
      this.db.globalState.findUniqueOrThrow({ where: { id: 1 }, select: { globalVersion: true } }),
    ]);
    const versions = new Map(users.map((user) => [user.userId, user.tokenVersion]));
    const rows = fresh.map((token) => ({ token, sessionId: randomUUID(), tokenVersion: versions.get(token.userId) ?? 0n }));
    await this.db.session.createMany({
      data: rows.map(({ token, sessionId, tokenVersion }) => ({
        id: sessionId,
        userId: token.userId,
        activeOrgId: token.activeOrgId,
        deviceName: token.deviceName,
        userAgent: token.userAgent,
        ipAddress: token.ipAddress,
        authTime: token.issuedAt,
        createdBy,
        tokenVersion,
        globalVersion: global.globalVersion,
        refreshTtlSeconds,
        createdAt: token.issuedAt,
        lastActivityAt: token.issuedAt,
        expiresAt: token.sessionExpiresAt,
      })),
    });
    await this.db.refreshToken.createMany({
      data: rows.map(({ token, sessionId, tokenVersion }) => ({
        id: randomUUID(),
        sessionId,
        tokenHash: new Uint8Array(token.hash),
        tokenVersion,
        globalVersion: global.globalVersion,
        issuedAt: token.issuedAt,
        expiresAt: token.expiresAt,
      })),
    });
    return { imported: fresh.length, skipped: tokens.length - fresh.length };
  }
}
