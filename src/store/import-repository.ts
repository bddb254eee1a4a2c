import { randomUUID } from "node:crypto";
import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

/** One refresh token from another system, known only by its SHA-256. */
export interface ImportedToken {
  /** Where it came from (a line number), for the report. */
  readonly line: number;
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

export interface ImportOutcome {
  readonly imported: number;
  readonly alreadyPresent: number;
  readonly refused: readonly { readonly line: number; readonly reason: string }[];
}

/** Sessions and refresh tokens brought in from another system (`session-authority import`). */
export class ImportRepository {
  constructor(private readonly db: Db) {}

  /**
   * One session per token, stamped with its user's current versions (so a
   * later bump kills it like any other), created by the caller that will
   * present the tokens. A hash already stored for the same user is skipped,
   * so re-running an import adds nothing. Refused: a token issued before its
   * user's (or everyone's) tokens were last revoked here, which importing
   * would bring back to life, and a hash already stored for another user.
   */
  async importTokens(tokens: readonly ImportedToken[], createdBy: string, refreshTtlSeconds: number): Promise<ImportOutcome> {
    const refused: { line: number; reason: string }[] = [];
    const stored = await this.db.refreshToken.findMany({
      where: { tokenHash: { in: tokens.map((token) => new Uint8Array(token.hash)) } },
      select: { tokenHash: true, session: { select: { userId: true } } },
    });
    const owners = new Map(stored.map((row) => [Buffer.from(row.tokenHash).toString("hex"), row.session.userId]));
    const userIds = [...new Set(tokens.map((token) => token.userId))];
    await this.db.user.createMany({ data: userIds.map((userId) => ({ userId })), skipDuplicates: true });
    // Raw: FOR SHARE, which Prisma cannot say. The rows whose versions the
    // new sessions are stamped with stay locked until commit, so a revocation
    // cannot slip between the "revoked since?" check and the stamping (it
    // waits, then kills what this import wrote).
    const [users, global] = await Promise.all([
      this.db.$queryRaw<{ user_id: string; token_version: bigint; token_version_bumped_at: Date | null }[]>`
        SELECT user_id, token_version, token_version_bumped_at FROM users WHERE user_id = ANY(${userIds}) FOR SHARE`,
      this.db.$queryRaw<{ global_version: bigint; bumped_at: Date | null }[]>`SELECT global_version, bumped_at FROM global_state WHERE id = 1 FOR SHARE`,
    ]);
    const globalRow = global[0];
    if (globalRow === undefined) throw new Error("global_state row is missing");
    // An account deleted here (DeleteUserData) leaves only its audit entry.
    const deletions = await this.db.auditEvent.findMany({ where: { action: "user_data_deleted", userId: { in: userIds } }, select: { userId: true, occurredAt: true } });
    // When each user's tokens were last ended here: a token issued before then stays dead.
    const endedAt = new Map<string, Date>();
    for (const { userId, at } of [...users.map((user) => ({ userId: user.user_id, at: user.token_version_bumped_at })), ...deletions.map((event) => ({ userId: event.userId, at: event.occurredAt }))]) {
      const previous = userId === null ? undefined : endedAt.get(userId);
      if (userId !== null && at !== null && (previous === undefined || at > previous)) endedAt.set(userId, at);
    }
    let alreadyPresent = 0;
    const fresh: ImportedToken[] = [];
    for (const token of tokens) {
      const key = token.hash.toString("hex");
      const owner = owners.get(key);
      if (owner !== undefined) {
        if (owner === token.userId) alreadyPresent += 1;
        else refused.push({ line: token.line, reason: "this token_sha256 is already stored for another user" });
        continue;
      }
      const revokedSince = [endedAt.get(token.userId), globalRow.bumped_at].some((at) => at !== null && at !== undefined && at.getTime() >= token.issuedAt.getTime());
      if (revokedSince) {
        refused.push({ line: token.line, reason: "issued before its user's (or every user's) tokens were revoked here: importing it would bring it back" });
        continue;
      }
      owners.set(key, token.userId);
      fresh.push(token);
    }
    if (fresh.length === 0) return { imported: 0, alreadyPresent, refused };

    const versions = new Map(users.map((user) => [user.user_id, user.token_version]));
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
        globalVersion: globalRow.global_version,
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
        globalVersion: globalRow.global_version,
        issuedAt: token.issuedAt,
        expiresAt: token.expiresAt,
      })),
    });
    return { imported: fresh.length, alreadyPresent, refused };
  }
}
