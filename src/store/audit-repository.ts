import type { Prisma } from "./database.js";
import type { NewRevocationEvent } from "./records.js";
import type { TransactionClient } from "./transaction.js";

type Db = Prisma | TransactionClient;

export interface NewAuditEvent {
  readonly actor: string;
  readonly action: string;
  readonly reason: string;
  readonly userId?: string | null;
  readonly sessionId?: string | null;
  readonly orgId?: string | null;
  readonly keyId?: string | null;
  readonly version?: bigint | null;
  readonly method?: string | null;
  readonly peer?: string | null;
  readonly count?: number;
}

export interface StoredAuditEvent extends Required<Omit<NewAuditEvent, "count">> {
  readonly id: bigint;
  readonly occurredAt: Date;
  readonly count: number;
}

export interface AuditFilter {
  readonly userId?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly actor?: string | undefined;
  readonly actions: readonly string[];
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  /** A caller limited to some organisations sees only their events. */
  readonly orgs?: readonly string[] | undefined;
}

/** The feed events that are also audit facts: everything but logins and grace replays. */
const AUDITED_KINDS: ReadonlySet<NewRevocationEvent["kind"]> = new Set([
  "session_revoked",
  "user_data_deleted",
  "token_reuse",
  "user_version",
  "global_version",
  "signing_key_published",
  "signing_key_revoked",
]);

export function auditOf(events: readonly NewRevocationEvent[]): NewAuditEvent[] {
  return events
    .filter((event) => AUDITED_KINDS.has(event.kind))
    .map((event) => ({
      actor: event.caller,
      action: event.kind,
      reason: event.reason,
      userId: event.userId,
      sessionId: event.sessionId,
      orgId: event.orgId,
      keyId: event.keyId ?? null,
      version: event.version ?? null,
    }));
}

export class AuditRepository {
  constructor(private readonly db: Db) {}

  async record(events: readonly NewAuditEvent[]): Promise<void> {
    if (events.length > 0) await this.db.auditEvent.createMany({ data: [...events] });
  }

  /** Newest first, keyset on the id. */
  async list(filter: AuditFilter, beforeId: bigint | null, take: number): Promise<StoredAuditEvent[]> {
    const rows = await this.db.auditEvent.findMany({
      where: {
        ...(filter.userId === undefined ? {} : { userId: filter.userId }),
        ...(filter.sessionId === undefined ? {} : { sessionId: filter.sessionId }),
        ...(filter.actor === undefined ? {} : { actor: filter.actor }),
        ...(filter.actions.length === 0 ? {} : { action: { in: [...filter.actions] } }),
        ...(filter.orgs === undefined ? {} : { orgId: { in: [...filter.orgs] } }),
        occurredAt: { ...(filter.since === undefined ? {} : { gte: filter.since }), ...(filter.until === undefined ? {} : { lt: filter.until }) },
        ...(beforeId === null ? {} : { id: { lt: beforeId } }),
      },
      orderBy: { id: "desc" },
      take,
    });
    return rows.map((row) => ({
      id: row.id,
      occurredAt: row.occurredAt,
      actor: row.actor,
      action: row.action,
      reason: row.reason,
      userId: row.userId,
      sessionId: row.sessionId,
      orgId: row.orgId,
      keyId: row.keyId,
      version: row.version,
      method: row.method,
      peer: row.peer,
      count: row.count,
    }));
  }

  /** Deletes up to `batch` audit events older than `before`; returns how many. */
  async prune(before: Date, batch: number): Promise<number> {
    // Raw: Prisma's deleteMany has no LIMIT, and an unbounded delete of a year's backlog would hold its locks for long.
    const rows = await this.db.$queryRaw<{ deleted: number }[]>`
      WITH gone AS (
        DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE occurred_at < ${before} ORDER BY id LIMIT ${batch}) RETURNING 1
      )
      SELECT count(*)::int AS deleted FROM gone`;
    return rows[0]?.deleted ?? 0;
  }
}
