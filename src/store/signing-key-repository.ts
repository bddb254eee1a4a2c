import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

export interface StoredSigningKey {
  readonly kid: string;
  readonly algorithm: string;
  readonly state: string;
  readonly publicJwk: unknown;
  readonly privateJwk: unknown;
}

// Any constant works; it only has to differ from other advisory locks we take.
const KEY_GENERATION_LOCK = 0x5341_4b31;

export class SigningKeyRepository {
  constructor(private readonly db: Db) {}

  /** Serialises key generation across replicas until the transaction ends. */
  async lockKeyGeneration(): Promise<void> {
    await this.db.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_GENERATION_LOCK})`;
  }

  async findActive(): Promise<StoredSigningKey | null> {
    return this.db.signingKey.findFirst({ where: { state: "active" } });
  }

  async findPublished(): Promise<StoredSigningKey[]> {
    return this.db.signingKey.findMany({ where: { state: { in: ["active", "published"] } }, orderBy: { createdAt: "desc" } });
  }

  async insertActive(key: { kid: string; algorithm: string; publicJwk: object; privateJwk: object }): Promise<void> {
    await this.db.signingKey.create({ data: { ...key, state: "active" } });
  }
}
