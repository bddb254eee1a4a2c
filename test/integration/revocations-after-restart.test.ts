import { afterEach, describe, expect, it } from "vitest";
import { SessionVerifier } from "../../clients/ts/src/index.js";
import { failure } from "../support/clients.js";
import { startRestartableService, type RestartableService, type RunningTestService } from "../support/restartable-service.js";
import { watch } from "../support/watch.js";

interface Login {
  session: { session_id: string };
  tokens: { access_token: string; refresh_token: string };
}

describe("revocations that outlive a restart", () => {
  let r: RestartableService | undefined;
  const verifiers: SessionVerifier[] = [];
  afterEach(async () => {
    for (const verifier of verifiers.splice(0)) verifier.close();
    await r?.stop();
    r = undefined;
  });

  const login = async (s: RunningTestService, user: string) => (await s.session("CreateSession", { user_id: user })) as Login;
  const serverAnswer = async (s: RunningTestService, token: string) => {
    const refused = await failure(s.token("VerifyAccessToken", { access_token: token })).catch(() => undefined);
    return refused === undefined ? "VALID" : `${refused.codeName}/${refused.errorInfo?.reason}`;
  };
  const embeddedVerifier = async (s: RunningTestService) => {
    const verifier = await SessionVerifier.start({
      target: `127.0.0.1:${s.service.grpcPort}`,
      jwksUrl: `http://127.0.0.1:${s.service.httpPort}/.well-known/jwks.json`,
    });
    verifiers.push(verifier);
    return verifier;
  };

  it("refuses a deleted user's access tokens after a restart, on the server and in a new embedded verifier; the user may log in again", async () => {
    r = await startRestartableService();
    const before = await login(r.current, "deleted-then-restarted");
    const cursor = (await r.current.token("GetRevocationSnapshot", {})).cursor;
    await r.current.session("DeleteUserData", { user_id: "deleted-then-restarted" });

    await r.restart();
    expect(await serverAnswer(r.current, before.tokens.access_token)).toBe("UNAUTHENTICATED/VERSION_STALE");
    const verifier = await embeddedVerifier(r.current);
    expect(await verifier.verify(before.tokens.access_token)).toEqual({ valid: false, reason: "VERSION_STALE", source: "local" });
    // The deletion's event names the user's new token version, the floor for every token issued before.
    const feed = watch(r.current.tokens, { cursor, kinds: ["REVOCATION_EVENT_KIND_USER_DATA_DELETED"] });
    await feed.until(() => feed.events.length > 0);
    feed.cancel();
    expect(feed.events[0]).toMatchObject({ user_id: "deleted-then-restarted", version: "1", reason: "account_deleted" });
    const snapshot = await r.current.token("GetRevocationSnapshot", {});
    expect(snapshot.user_versions).toContainEqual(expect.objectContaining({ user_id: "deleted-then-restarted", token_version: "1" }));

    // The users row is a tombstone, not a ban: a new login is stamped with the new version and lives.
    const after = await login(r.current, "deleted-then-restarted");
    expect(await serverAnswer(r.current, after.tokens.access_token)).toBe("VALID");
    expect(await verifier.verify(after.tokens.access_token)).toMatchObject({ valid: true, claims: { tv: 1 } });
    const refreshed = await r.current.token("RefreshTokens", { refresh_token: after.tokens.refresh_token });
    expect(await serverAnswer(r.current, refreshed.tokens?.access_token ?? "")).toBe("VALID");
    expect(await serverAnswer(r.current, before.tokens.access_token)).toBe("UNAUTHENTICATED/VERSION_STALE");
  }, 60_000);

  it("keeps a revoked session through a retention shorter than the revocation window, so a restart still refuses its tokens", async () => {
    r = await startRestartableService({ ENDED_SESSION_RETENTION: "1s" });
    const revoked = await login(r.current, "revoked-then-swept");
    await r.current.session("RevokeSession", { session_id: revoked.session.session_id, reason: "logout" });
    r.current.clock.advance(10_000);
    const swept = await r.current.service.enforceRetention();

    await r.restart();
    expect(await serverAnswer(r.current, revoked.tokens.access_token)).toBe("UNAUTHENTICATED/TOKEN_REVOKED");
    const verifier = await embeddedVerifier(r.current);
    expect(await verifier.verify(revoked.tokens.access_token)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });
    expect(swept.deleted).toBe(0);

    // Once no access token of it can be unexpired (window 1 h + 60 s leeway, plus the 5 min clock margin), it goes.
    r.current.clock.advance(66 * 60_000);
    expect((await r.current.service.enforceRetention()).deleted).toBe(1);
  }, 60_000);
});
