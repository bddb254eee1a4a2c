import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

export interface StoredSecret {
  readonly name: string;
  /** An envelope when `kekId` is set; plaintext on rows from before secrets were encrypted. */
  readonly secret: Buffer;
  readonly kekId: string | null;
}

export class SecretRepository {
  constructor(private readonly db: Db) {}

  /**
   * Returns the named secret, storing `candidate` if there is none yet. Replicas
   * starting together may each offer a candidate; ON CONFLICT keeps the first
   * and every replica reads that one.
   */
  async ensure(name: string, candidate: { secret: Buffer; kekId: string }): Promise<StoredSecret> {
    await this.db.$executeRaw`
      INSERT INTO service_secrets (name, secret, kek_id) VALUES (${name}, ${new Uint8Array(candidate.secret)}, ${candidate.kekId})
      ON CONFLICT (name) DO NOTHING`;
    const row = await this.db.serviceSecret.findUniqueOrThrow({ where: { name } });
    return { name: row.name, secret: Buffer.from(row.secret), kekId: row.kekId };
  }

  async findAll(): Promise<StoredSecret[]> {
    const rows = await this.db.serviceSecret.findMany({ orderBy: { name: "asc" } });
    return rows.map((row) => ({ name: row.name, secret: Buffer.from(row.secret), kekId: row.kekId }));
  }

  async storeWrapped(name: string, secret: Buffer, kekId: string): Promise<void> {
    await this.db.serviceSecret.update({ where: { name }, data: { secret: new Uint8Array(secret), kekId } });
  }
}
