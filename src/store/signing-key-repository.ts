import { Prisma as PrismaNamespace } from "../generated/prisma/client.js";
import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

export interface StoredSigningKey {
  readonly kid: string;
  readonly algorithm: string;
  readonly publicJwk: unknown;
  readonly wrappedPrivateKey: Uint8Array | null;
  readonly kekId: string | null;
  /** Only on rows written before keys were encrypted. */
  readonly privateJwk: unknown;
  readonly createdAt: Date;
  readonly activatesAt: Date;
  readonly retiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokeReason: string | null;
}

export interface NewSigningKey {
  readonly kid: string;
  readonly algorithm: string;
  readonly publicJwk: object;
  readonly wrappedPrivateKey: Buffer;
  readonly kekId: string;
  readonly createdAt: Date;
  readonly activatesAt: Date;
}

// Any constant works; it only has to differ from other advisory locks we take.
const KEY_TABLE_LOCK = 0x5341_4b31;

export class SigningKeyRepository {
  constructor(private readonly db: Db) {}

  /** Serialises every change to the key table across replicas until the transaction ends. */
  async lock(): Promise<void> {
    await this.db.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_TABLE_LOCK})`;
  }

  /** The whole table: a handful of rows, since retired keys are few and small. */
  async findAll(): Promise<StoredSigningKey[]> {
    return this.db.signingKey.findMany({ orderBy: [{ activatesAt: "desc" }, { kid: "asc" }] });
  }

  async insert(key: NewSigningKey): Promise<void> {
    await this.db.signingKey.create({ data: { ...key, wrappedPrivateKey: new Uint8Array(key.wrappedPrivateKey) } });
  }

  async setRetiresAt(kid: string, at: Date): Promise<void> {
    await this.db.signingKey.update({ where: { kid }, data: { retiresAt: at } });
  }

  async setActivatesAt(kid: string, at: Date): Promise<void> {
    await this.db.signingKey.update({ where: { kid }, data: { activatesAt: at } });
  }

  async revoke(kid: string, at: Date, reason: string): Promise<void> {
    await this.db.signingKey.update({ where: { kid }, data: { revokedAt: at, revokeReason: reason } });
  }

  /** Stores a (re-)wrapped private key and drops any plaintext left from before encryption. */
  async storeWrapped(kid: string, wrappedPrivateKey: Buffer, kekId: string): Promise<void> {
    await this.db.signingKey.update({
      where: { kid },
      data: { wrappedPrivateKey: new Uint8Array(wrappedPrivateKey), kekId, privateJwk: PrismaNamespace.DbNull },
    });
  }
}
