import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import type { Caller } from "../domain/context.js";
import { formatCursor } from "../domain/feed-cursor.js";
import { watchRevocations, type WatchDependencies, type WatchMessage } from "../domain/watch-revocations.js";
import type { WatchRevocationsRequest__Output } from "../generated/proto/types/sessionauthority/v1/WatchRevocationsRequest.js";
import type { RevocationEventKind } from "../generated/proto/types/sessionauthority/v1/RevocationEventKind.js";
import type { WatchRevocationsResponse } from "../generated/proto/types/sessionauthority/v1/WatchRevocationsResponse.js";
import type { Logger } from "../logger.js";
import type { StoredRevocationEvent } from "../store/event-repository.js";
import { toTimestamp } from "./convert.js";
import { VERIFIED_CALLER_HEADER } from "./interceptors/caller-auth.js";
import { isMalformed, malformedRequestError } from "./malformed-request.js";
import { errorStatus } from "./status.js";
import { toErrorStatus } from "./unary.js";

type WatchCall = grpc.ServerWritableStream<WatchRevocationsRequest__Output, WatchRevocationsResponse>;

const KIND_PREFIX = "REVOCATION_EVENT_KIND_";
const toStoredKind = (kind: string) => (kind.startsWith(KIND_PREFIX) ? kind.slice(KIND_PREFIX.length).toLowerCase() : kind.toLowerCase());
const toEventKind = (kind: string) => `${KIND_PREFIX}${kind.toUpperCase()}` as RevocationEventKind;

function toEventMessage(event: StoredRevocationEvent, epoch: number) {
  return {
    cursor: formatCursor(event.cursor, epoch),
    kind: toEventKind(event.kind),
    session_id: event.sessionId ?? "",
    user_id: event.userId ?? "",
    version: String(event.version ?? 0n),
    reason: event.reason,
    occurred_at: toTimestamp(event.occurredAt),
    active_org_id: event.orgId ?? "",
    org_ids: [...event.orgIds],
    kid: event.keyId ?? "",
    caller: event.caller,
  };
}

function toResponse(message: WatchMessage): WatchRevocationsResponse {
  if ("event" in message) return { event: toEventMessage(message.event, message.epoch) };
  return { heartbeat: { cursor: formatCursor(message.heartbeat.cursor, message.epoch), sent_at: toTimestamp(message.heartbeat.sentAt) } };
}

/**
 * The open WatchRevocations streams of this server: each runs the domain's
 * feed loop and writes with backpressure; on shutdown every one ends with
 * UNAVAILABLE so clients reconnect (to another replica) from their cursor.
 */
export class RevocationStreams {
  private readonly open = new Map<WatchCall, AbortController>();

  constructor(
    private readonly deps: WatchDependencies,
    private readonly logger: Logger,
  ) {}

  handler = (call: WatchCall): void => {
    const caller: Caller = { id: String(call.metadata.get(VERIFIED_CALLER_HEADER)[0] ?? "anonymous") };
    const abort = new AbortController();
    this.open.set(call, abort);
    call.on("cancelled", () => abort.abort());
    void this.run(call, caller, abort).finally(() => this.open.delete(call));
  };

  private async run(call: WatchCall, caller: Caller, abort: AbortController): Promise<void> {
    try {
      if (isMalformed(call.request)) throw malformedRequestError();
      const input = { cursor: call.request.cursor, kinds: call.request.kinds.map(String).map(toStoredKind), orgIds: call.request.org_ids };
      for await (const message of watchRevocations(this.deps, caller, input, abort.signal)) {
        if (!call.write(toResponse(message))) await once(call, "drain", { signal: abort.signal });
      }
    } catch (error) {
      if (abort.signal.aborted) return;
      call.emit("error", toErrorStatus(error, this.logger, call.getPath()));
    }
  }

  /** Ends every stream with UNAVAILABLE; returns how many there were. */
  closeAll(): number {
    const count = this.open.size;
    for (const [call, abort] of this.open) {
      abort.abort();
      call.emit("error", errorStatus(grpc.status.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down; reconnect with your last cursor"));
    }
    this.open.clear();
    return count;
  }
}
