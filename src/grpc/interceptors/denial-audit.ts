import * as grpc from "@grpc/grpc-js";
import type { DenialAudit } from "../../domain/denial-audit.js";
import { decodeErrorInfo } from "../status.js";
import { callObserver } from "./call-observer.js";
import { VERIFIED_CALLER_HEADER } from "./caller-auth.js";

/** The refusals that are policy decisions: unknown callers, and callers beyond their rules or organisations. */
const AUDITED_REASONS: ReadonlySet<string> = new Set(["CALLER_UNAUTHENTICATED", "CALLER_NOT_ALLOWED", "ORG_NOT_ALLOWED"]);

/**
 * Sends every policy denial to the audit log, whichever layer refused: the
 * caller check (before any handler) or a use case (organisation scope, a
 * capability). Reads the reason back from the status it is about to send,
 * so no refusal path can forget to report itself.
 */
export function denialAuditInterceptor(audit: DenialAudit): grpc.ServerInterceptor {
  return callObserver((method, call) => ({
    onStatus(status, received) {
      if (status.code !== grpc.status.PERMISSION_DENIED && status.code !== grpc.status.UNAUTHENTICATED) return;
      const info = decodeErrorInfo(status.metadata ?? undefined);
      if (info === undefined || !AUDITED_REASONS.has(info.reason)) return;
      const verified = received?.get(VERIFIED_CALLER_HEADER)[0];
      audit.record({
        actor: typeof verified === "string" ? verified : (info.metadata["caller"] ?? "unauthenticated"),
        reason: info.reason,
        method: method.slice(1),
        peer: call.getConnectionInfo().remoteAddress ?? "",
      });
    },
  }));
}
