import type { Prisma } from "./database.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

export class SecretRepository {
  constructor(private readonly db: Db) {}

  /**
   * Returns the named secret, storing `candidate` if there is none yet. Replicas
   * starting together may each offer a candidate; ON CONFLICT keeps the first
   * and every replica reads that one.
   */
  async ensure(name: string, candidate: Buffer): Promise<Buffer> {
    await this.db.$executeRaw`
      INSERT INTO service_secrets (name, secret) VALUES (${name}, ${new Uint8Array(candidate)}) ON CONFLICT (name) DO NOTHING`;
    const row = await this.db.serviceSecret.findUniqueOrThrow({ where: { name } });
    return Buffer.from(row.secret);
  }
}
