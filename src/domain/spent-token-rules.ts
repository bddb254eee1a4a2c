import type { LockedRefreshToken } from "../store/rotation-repository.js";
import type { Caller } from "./context.js";

export interface SpentTokenSettings {
  readonly graceWindowMs: number;
  readonly graceMaxReplays: number;
  readonly burstWindowMs: number;
}

export type SpentTokenDecision =
  | { readonly kind: "replay"; readonly successor: { readonly id: string; readonly expiresAt: Date }; readonly counted: boolean }
  | { readonly kind: "concurrent" }
  | { readonly kind: "reuse" };

/**
 * What presenting an already-rotated token means (ADR 013's table). Pure, so
 * the table is this one function and the model-based test can hold the
 * server to it. `liveSuccessor` is the successor while it is unused; `client`
 * is the presenting client's fingerprint (null when it sent neither user
 * agent nor IP).
 */
export function decideSpentToken(
  settings: SpentTokenSettings,
  token: Pick<LockedRefreshToken, "rotatedAt" | "rotatedBy" | "rotatedClient" | "replayCount" | "transactionStartedAt">,
  caller: Caller,
  client: Buffer | null,
  liveSuccessor: { readonly id: string; readonly expiresAt: Date } | null,
): SpentTokenDecision {
  const { graceWindowMs, graceMaxReplays } = settings;
  if (liveSuccessor === null) return { kind: "reuse" };
  const sameClient = token.rotatedBy === caller.id && equalOrBothNull(token.rotatedClient, client);
  if (!sameClient) return { kind: "reuse" };
  const rotatedAt = token.rotatedAt ?? token.transactionStartedAt;
  const sinceRotation = token.transactionStartedAt.getTime() - rotatedAt.getTime();
  const burstWindowMs = graceWindowMs > 0 ? Math.min(settings.burstWindowMs, graceWindowMs) : settings.burstWindowMs;
  const racing = sinceRotation < 0 || sinceRotation <= burstWindowMs;
  if (racing) return graceWindowMs > 0 ? { kind: "replay", successor: liveSuccessor, counted: false } : { kind: "concurrent" };
  if (sinceRotation <= graceWindowMs && token.replayCount < graceMaxReplays) return { kind: "replay", successor: liveSuccessor, counted: true };
  return { kind: "reuse" };
}

function equalOrBothNull(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}
