import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

/** What VerifyAccessToken needs beyond the signature, as of one instant. */
export interface VerificationState {
  readonly sessionRevokedAt: Date | null;
  readonly sessionExpiresAt: Date;
  /** The user's and the global version floors. */
  readonly userTokenVersion: bigint;
  readonly globalVersion: bigint;
  /** When the token's signing key was revoked, if it was. */
  readonly keyRevokedAt: Date | null;
}

export class VerificationRepository {
  constructor(private readonly db: Db) {}

  /**
   * Raw SQL because this is the verification hot path and Prisma cannot join
   * rows that have no relation (the global version, the key by kid) into one
   * statement: one round trip on the session's primary key.
   */
  async stateOf(sessionId: string, kid: string): Promise<VerificationState | null> {
    const rows = await this.db.$queryRaw<
      { revoked_at: Date | null; expires_at: Date; token_version: bigint; global_version: bigint; key_revoked_at: Date | null }[]
    >`
      SELECT s.revoked_at, s.expires_at, u.token_version, g.global_version, k.revoked_at AS key_revoked_at
      FROM sessions s
      JOIN users u ON u.user_id = s.user_id
      JOIN global_state g ON g.id = 1
      LEFT JOIN signing_keys k ON k.kid = ${kid}
      WHERE s.id = ${sessionId}::uuid`;
    const row = rows[0];
    if (row === undefined) return null;
    return {
      sessionRevokedAt: row.revoked_at,
      sessionExpiresAt: row.expires_at,
      userTokenVersion: row.token_version,
      globalVersion: row.global_version,
      keyRevokedAt: row.key_revoked_at,
    };
  }
}
