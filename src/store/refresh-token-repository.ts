import type { Prisma } from "./database.js";
import type { NewRefreshToken, RefreshTokenRecord } from "./records.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

export class RefreshTokenRepository {
  constructor(private readonly db: Db) {}

  async insert(token: NewRefreshToken): Promise<void> {
    const { hash, ...rest } = token;
    await this.db.refreshToken.create({ data: { ...rest, tokenHash: new Uint8Array(hash) } });
  }

  /** One probe of the unique hash index. */
  async findByHash(hash: Buffer): Promise<RefreshTokenRecord | null> {
    return this.db.refreshToken.findUnique({
      where: { tokenHash: new Uint8Array(hash) },
      select: { id: true, sessionId: true, expiresAt: true, rotatedAt: true, revokedAt: true },
    });
  }

  /** The session's one live token (not rotated, not revoked), if any. */
  async findLive(sessionId: string): Promise<RefreshTokenRecord | null> {
    return this.db.refreshToken.findFirst({
      where: { sessionId, rotatedAt: null, revokedAt: null },
      select: { id: true, sessionId: true, expiresAt: true, rotatedAt: true, revokedAt: true },
    });
  }

  /** Guarded write: only the caller that still sees the token live marks it rotated. */
  async markRotated(id: string, now: Date): Promise<boolean> {
    const changed = await this.db.refreshToken.updateMany({
      where: { id, rotatedAt: null, revokedAt: null },
      data: { rotatedAt: now },
    });
    return changed.count === 1;
  }
}
