import { randomInt } from "node:crypto";
import type { Caller } from "./context.js";
import type { KeyLifecycleDependencies } from "./signing-key-lifecycle.js";
import { ensureSigner } from "./signing-keys.js";

export const RESTORE_REASON = "restored_from_backup";

export interface RestoreFence {
  readonly globalVersion: bigint;
  readonly revokedKids: readonly string[];
  readonly signerKid: string;
}

/**
 * Run once after restoring a backup, before serving. The copy is older than
 * the tokens in circulation: revocations made after it are gone (those
 * tokens would pass again), its versions are lower than what newer tokens
 * carry, and a key revoked after it (a leaked one) is live again.
 *
 * So, in one transaction: the global version jumps past anything a token can
 * carry (to the current Unix time in seconds, unless already higher; every
 * other bump adds 1, so no version ever issued is that high), which kills
 * every token issued before the fence whichever copy issued it; and every
 * signing key in the copy is revoked, a new one signing from now, so
 * nobody holding an old private key can mint a token that passes. Everyone
 * signs in again.
 */
export async function fenceAfterRestore(deps: KeyLifecycleDependencies, caller: Caller): Promise<RestoreFence> {
  const now = deps.clock.now();
  const fence = await deps.store.transaction(async (repos) => {
    await repos.signingKeys.lock();
    const existing = await repos.signingKeys.findAll();
    const live = existing.filter((key) => key.revokedAt === null);
    for (const key of live) await repos.signingKeys.revoke(key.kid, now, RESTORE_REASON);
    const remaining = existing.map((key) => ({ ...key, revokedAt: key.revokedAt ?? now }));
    const signerKid = await ensureSigner(repos, remaining, deps.encryption, now, deps.keySettings.signingAlgorithm);
    const globalVersion = await repos.versions.bumpGlobalVersion(RESTORE_REASON, BigInt(Math.floor(now.getTime() / 1000)));
    // Random rather than the copy's epoch + 1: restoring the same backup twice
    // (a second point-in-time attempt) must not give two timelines one epoch.
    const previousEpoch = await repos.events.feedEpoch();
    let epoch = randomInt(1, 2 ** 31 - 1);
    while (epoch === previousEpoch) epoch = randomInt(1, 2 ** 31 - 1);
    await repos.events.startNewEpoch(epoch);
    await repos.events.record([
      ...live.map((key) => ({ kind: "signing_key_revoked" as const, sessionId: null, userId: null, orgId: null, keyId: key.kid, reason: RESTORE_REASON, caller: caller.id })),
      { kind: "global_version" as const, sessionId: null, userId: null, orgId: null, version: globalVersion, reason: RESTORE_REASON, caller: caller.id },
    ]);
    return { globalVersion, revokedKids: live.map((key) => key.kid), signerKid };
  });
  await deps.keyRing?.refresh();
  return fence;
}
