import type { Database } from "./database.js";
import { RefreshTokenRepository } from "./refresh-token-repository.js";
import { RotationRepository } from "./rotation-repository.js";
import { SecretRepository } from "./secret-repository.js";
import { SessionRepository } from "./session-repository.js";
import { SigningKeyRepository } from "./signing-key-repository.js";
import { inTransaction, translateDatabaseError, type TransactionClient } from "./transaction.js";
import { VerificationRepository } from "./verification-repository.js";
import { VersionRepository } from "./version-repository.js";

export interface Repositories {
  readonly sessions: SessionRepository;
  readonly refreshTokens: RefreshTokenRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly rotation: RotationRepository;
  readonly versions: VersionRepository;
  readonly secrets: SecretRepository;
  readonly verification: VerificationRepository;
}

function repositoriesFor(client: Database["prisma"] | TransactionClient): Repositories {
  return {
    sessions: new SessionRepository(client),
    refreshTokens: new RefreshTokenRepository(client),
    signingKeys: new SigningKeyRepository(client),
    rotation: new RotationRepository(client),
    versions: new VersionRepository(client),
    secrets: new SecretRepository(client),
    verification: new VerificationRepository(client),
  };
}

/** The domain's only door to the database. */
export class Store {
  private readonly direct: Repositories;

  constructor(private readonly database: Database) {
    this.direct = repositoriesFor(database.prisma);
  }

  /** Runs `work` in one transaction, retried on serialization conflicts. */
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T> {
    return inTransaction(this.database.prisma, (tx) => work(repositoriesFor(tx)));
  }

  /** Runs a single-statement read or write outside a transaction. */
  async read<T>(work: (repositories: Repositories) => Promise<T>): Promise<T> {
    try {
      return await work(this.direct);
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  /** Cheap liveness probe of the database, for readiness. */
  async ping(): Promise<boolean> {
    try {
      await this.database.prisma.$queryRaw`SELECT 1`;
      return true;
    } catch {
      return false;
    }
  }
}
