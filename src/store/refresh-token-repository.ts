import { withinReach, type SessionReach } from "./session-repository.js";
import type { Prisma } from "./database.js";
import type { NewRefreshToken, RefreshTokenRecord, SessionPageCursor } from "./records.js";
import type { VersionFloor } from "./session-repository.js";

export interface LiveTokenInfo {
  readonly id: string;
  readonly sessionId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** Issued by a rotation (rather than at login). */
  readonly rotated: boolean;
  readonly sessionCreatedAt: Date;
}
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

  async findById(id: string): Promise<RefreshTokenRecord | null> {
    return this.db.refreshToken.findUnique({
      where: { id },
      select: { id: true, sessionId: true, expiresAt: true, rotatedAt: true, revokedAt: true },
    });
  }

  /** Sessions owning a refresh token whose id lies in the range (an access token's jti names such a range). */
  async sessionIdsByTokenIdRange(from: string, to: string): Promise<string[]> {
    const rows = await this.db.refreshToken.findMany({ where: { id: { gte: from, lte: to } }, select: { sessionId: true }, distinct: ["sessionId"], take: 10 });
    return rows.map((row) => row.sessionId);
  }

  /** Kills the session's live token (not as a rotation: presenting it later is not reuse). */
  async revokeLive(sessionId: string, reason: string, now: Date): Promise<void> {
    await this.db.refreshToken.updateMany({
      where: { sessionId, rotatedAt: null, revokedAt: null },
      data: { revokedAt: now, revokeReason: reason },
    });
  }

  /** A user's live refresh tokens, by their sessions newest first (keyset on the session). */
  async listLive(
    userId: string,
    now: Date,
    floor: VersionFloor,
    after: SessionPageCursor | null,
    take: number,
    reach: SessionReach = {},
  ): Promise<LiveTokenInfo[]> {
    const keyset = after === null ? {} : {
      OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
    };
    const rows = await this.db.refreshToken.findMany({
      where: {
        rotatedAt: null,
        revokedAt: null,
        expiresAt: { gt: now },
        session: {
          userId,
          revokedAt: null,
          expiresAt: { gt: now },
          tokenVersion: { gte: floor.tokenVersion },
          globalVersion: { gte: floor.globalVersion },
          ...withinReach(reach),
          ...keyset,
        },
      },
      orderBy: [{ session: { createdAt: "desc" } }, { session: { id: "desc" } }],
      take,
      select: { id: true, sessionId: true, issuedAt: true, expiresAt: true, parentId: true, session: { select: { createdAt: true } } },
    });
    return rows.map((row) => ({
      id: row.id,
      sessionId: row.sessionId,
      issuedAt: row.issuedAt,
      expiresAt: row.expiresAt,
      rotated: row.parentId !== null,
      sessionCreatedAt: row.session.createdAt,
    }));
  }
}
