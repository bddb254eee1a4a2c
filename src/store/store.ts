import { AuditRepository } from "./audit-repository.js";
import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { contextOf } from "../tracing.js";
import type { Database } from "./database.js";
import { ImportRepository } from "./import-repository.js";
import { EventRepository } from "./event-repository.js";
import type { NewRevocationEvent } from "./records.js";
import { RefreshTokenRepository } from "./refresh-token-repository.js";
import { RotationRepository } from "./rotation-repository.js";
import { SecretRepository } from "./secret-repository.js";
import { SessionRepository } from "./session-repository.js";
import { SigningKeyRepository } from "./signing-key-repository.js";
import { inTransaction, translateDatabaseError, type RemainingTime, type TransactionClient } from "./transaction.js";
import { VerificationRepository } from "./verification-repository.js";
import { VersionRepository } from "./version-repository.js";

export interface Repositories {
  readonly audit: AuditRepository;
  readonly sessions: SessionRepository;
  readonly refreshTokens: RefreshTokenRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly rotation: RotationRepository;
  readonly versions: VersionRepository;
  readonly secrets: SecretRepository;
  readonly verification: VerificationRepository;
  readonly events: EventRepository;
  readonly imports: ImportRepository;
}

function repositoriesFor(client: Database["prisma"] | TransactionClient, recorded: NewRevocationEvent[] = [], remaining: RemainingTime = () => undefined): Repositories {
  const audit = new AuditRepository(client);
  return {
    audit,
    sessions: new SessionRepository(client, remaining),
    refreshTokens: new RefreshTokenRepository(client),
    signingKeys: new SigningKeyRepository(client),
    rotation: new RotationRepository(client, remaining),
    versions: new VersionRepository(client),
    secrets: new SecretRepository(client),
    verification: new VerificationRepository(client),
    events: new EventRepository(client, audit, recorded),
    imports: new ImportRepository(client),
  };
}

export type DatabaseState = "writable" | "read_only" | "down";

/** The domain's only door to the database. */
export class Store {
  /**
   * @param deadlineMs The caller's deadline (epoch ms) that every transaction
   * started through this store stops at; see forCall.
   */
  constructor(
    private readonly database: Database,
    private readonly shared: {
      readonly direct: Repositories;
      readonly committedListeners: ((events: readonly NewRevocationEvent[]) => void)[];
      tracer?: Tracer;
    } = {
      direct: repositoriesFor(database.prisma),
      committedListeners: [],
    },
    private readonly deadlineMs = Infinity,
    private readonly traceparent = "",
  ) {}

  /** Whether transactions are traced: only then does a call's trace context mean anything. */
  get tracing(): boolean {
    return this.shared.tracer !== undefined;
  }

  /** Traces transactions (as children of the call that started them) from now on. */
  traceWith(tracer: Tracer): void {
    this.shared.tracer = tracer;
  }

  /**
   * The same store for one gRPC call: its transactions stop when the caller
   * stops waiting (a rotation the caller never hears of must not commit
   * later). Passed explicitly rather than through AsyncLocalStorage, whose
   * promise hooks cost every await of the process about a quarter of the
   * rotation's throughput (`npm run bench`, Node 20).
   */
  forCall(deadlineMs: number, traceparent = ""): Store {
    return new Store(this.database, this.shared, deadlineMs, traceparent);
  }

  /** Told of the events each transaction wrote, once it has committed (this replica's own writes). */
  onEventsCommitted(listener: (events: readonly NewRevocationEvent[]) => void): void {
    this.shared.committedListeners.push(listener);
  }

  /**
   * Runs `work` in one transaction, retried on serialization conflicts.
   * `deadlineInFirstStatement`: the work begins with a statement that carries
   * the call's deadline itself (RotationRepository.rotateIfLive,
   * SessionRepository.insertLogin), so no round trip is spent setting it.
   */
  async transaction<T>(work: (repositories: Repositories) => Promise<T>, options: { deadlineInFirstStatement?: boolean } = {}): Promise<T> {
    let recorded: NewRevocationEvent[] = [];
    const result = await this.traced("db.transaction", () =>
      inTransaction(
        this.database.prisma,
        this.deadlineMs,
        (tx, remaining) => {
          // A retried attempt starts over: only the committed attempt's events count.
          recorded = [];
          return work(repositoriesFor(tx, recorded, remaining));
        },
        undefined,
        options,
      ),
    );
    if (recorded.length > 0) for (const listener of this.shared.committedListeners) listener(recorded);
    return result;
  }

  /** Runs read-only `work` on one consistent snapshot of the database (REPEATABLE READ). */
  snapshot<T>(work: (repositories: Repositories) => Promise<T>): Promise<T> {
    return this.traced("db.snapshot", () => inTransaction(this.database.prisma, this.deadlineMs, (tx) => work(repositoriesFor(tx)), "RepeatableRead"));
  }

  /** A span around `run` when tracing is on and this store belongs to a traced call. */
  private async traced<T>(name: string, run: () => Promise<T>): Promise<T> {
    const tracer = this.shared.tracer;
    if (tracer === undefined || this.traceparent === "") return run();
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: { "db.system": "postgresql" } }, contextOf(this.traceparent));
    try {
      return await run();
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "error" });
      throw error;
    } finally {
      span.end();
    }
  }

  /** Runs a single-statement read or write outside a transaction. */
  async read<T>(work: (repositories: Repositories) => Promise<T>): Promise<T> {
    try {
      return await work(this.shared.direct);
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  /**
   * Cheap probe of the database, for health: down, up but refusing writes
   * (default_transaction_read_only, or a standby after a failover), or
   * writable. Raw because it asks for a setting, not a table.
   */
  async probe(): Promise<DatabaseState> {
    try {
      const [row] = await this.database.prisma.$queryRaw<{ read_only: string }[]>`SELECT current_setting('transaction_read_only') AS read_only`;
      return row?.read_only === "on" ? "read_only" : "writable";
    } catch {
      return "down";
    }
  }
}
