import { decodeJwt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { SessionVerifier, type Verification } from "../../clients/ts/src/index.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { sleep, waitUntil as until } from "../support/wait.js";

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("the embedded verifier (clients/ts)", () => {
  let t: TestService | undefined;
  let verifier: SessionVerifier | undefined;
  afterEach(async () => {
    verifier?.close();
    verifier = undefined;
    await t?.stop();
    t = undefined;
  });

  const startBoth = async (env: Record<string, string>, options: { maxSilenceMs?: number } = {}) => {
    const service = await startTestService(env);
    t = service;
    verifier = await SessionVerifier.start({
      target: `127.0.0.1:${service.service.grpcPort}`,
      jwksUrl: `http://127.0.0.1:${service.service.httpPort}/.well-known/jwks.json`,
      ...options,
    });
    const login = async (user: string) =>
      (await service.session("CreateSession", { user_id: user })) as { session: { session_id: string }; tokens: { access_token: string } };
    return { service, verifier, login };
  };

  it("verifies locally, and learns revocations from the stream without a call per token", async () => {
    const { service, verifier, login } = await startBoth({ WATCH_HEARTBEAT_INTERVAL: "300ms" });
    const alice = await login("verifier-alice");
    const valid = await verifier.verify(alice.tokens.access_token);
    expect(valid).toMatchObject({ valid: true, source: "local", claims: { sub: "verifier-alice", sid: alice.session.session_id } });

    await service.session("RevokeSession", { session_id: alice.session.session_id, reason: "logout" });
    const delayMs = await until(async () => !(await verifier.verify(alice.tokens.access_token)).valid);
    console.info(`revocation propagation server→embedded verifier: ${delayMs.toFixed(1)} ms`);
    expect(await verifier.verify(alice.tokens.access_token)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });

    const bob = await login("verifier-bob");
    await service.token("RevokeUserTokens", { user_id: "verifier-bob", reason: "password_changed" });
    await until(async () => !(await verifier.verify(bob.tokens.access_token)).valid);
    expect(await verifier.verify(bob.tokens.access_token)).toMatchObject({ valid: false, reason: "VERSION_STALE" });

    const carol = await login("verifier-carol");
    const [header, , signature] = carol.tokens.access_token.split(".") as [string, string, string];
    const forged = `${header}.${b64({ ...decodeJwt(carol.tokens.access_token), sub: "admin" })}.${signature}`;
    expect(await verifier.verify(forged)).toMatchObject({ valid: false, reason: "TOKEN_SIGNATURE_INVALID" });
    expect(await verifier.verify("not-a-token")).toMatchObject({ valid: false, reason: "TOKEN_INVALID" });
    expect(verifier.position).toMatch(/^\d+\.\d+$/);
  });

  it("hands every verification its own claims: changing one changes neither the next answer nor its revocation check", async () => {
    const { service, verifier, login } = await startBoth({ WATCH_HEARTBEAT_INTERVAL: "300ms" });
    const erin = await login("verifier-erin");
    const first = await verifier.verify(erin.tokens.access_token);
    if (!first.valid) throw new Error("a fresh token did not verify");
    // What an application might do to the object it was handed.
    first.claims.sub = "someone-else";
    first.claims["sid"] = "00000000-0000-4000-8000-000000000000";
    (first.claims.aud as string[] | string) = "elsewhere";
    const second = await verifier.verify(erin.tokens.access_token);
    expect(second).toMatchObject({ valid: true, source: "local", claims: { sub: "verifier-erin", sid: erin.session.session_id, aud: decodeJwt(erin.tokens.access_token).aud } });
    if (!second.valid) throw new Error("unreachable");
    second.claims["sid"] = "00000000-0000-4000-8000-000000000000";
    // The revocation is checked against the token's own session id, not the changed copy.
    await service.session("RevokeSession", { session_id: erin.session.session_id, reason: "logout" });
    await until(async () => !(await verifier.verify(erin.tokens.access_token)).valid);
    expect(await verifier.verify(erin.tokens.access_token)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });
  });

  it("stays consistent while a revocation arrives in the middle of verifying", async () => {
    const { service, verifier, login } = await startBoth({ WATCH_HEARTBEAT_INTERVAL: "300ms" });
    const dave = await login("verifier-dave");
    const results: Verification[] = [];
    let stop = false;
    const hammer = (async () => {
      while (!stop) {
        results.push(await verifier.verify(dave.tokens.access_token));
        // One verification per request, as a resource server makes them: a remembered token is
        // verified without I/O, so a loop that never yields would starve the stream it waits for.
        await new Promise(setImmediate);
      }
    })();
    await sleep(100);
    await service.token("RevokeAllTokens", { reason: "drill" });
    await until(async () => results.length > 0 && results.at(-1)?.valid === false);
    await sleep(50);
    stop = true;
    await hammer;
    // Valid until the event arrived, refused from then on: never flapping back.
    const firstRefusal = results.findIndex((result) => !result.valid);
    expect(firstRefusal).toBeGreaterThan(0);
    expect(results.slice(0, firstRefusal).every((result) => result.valid)).toBe(true);
    expect(results.slice(firstRefusal).every((result) => !result.valid && result.reason === "VERSION_STALE")).toBe(true);
    expect(results.every((result) => result.source === "local")).toBe(true);
  });

  it("treats itself as stale when its stream has been silent too long, and asks the server instead", async () => {
    // Heartbeats far apart, a short silence bound: the verifier must stop trusting itself.
    const { service, verifier, login } = await startBoth({ WATCH_HEARTBEAT_INTERVAL: "60s" }, { maxSilenceMs: 300 });
    const erin = await login("verifier-erin");
    await sleep(400);
    expect(verifier.stale).toBe(true);
    expect(await verifier.verify(erin.tokens.access_token)).toMatchObject({ valid: true, source: "server" });
    await service.session("RevokeSession", { session_id: erin.session.session_id, reason: "logout" });
    // A stream message (here, the revocation itself) makes it current again.
    await until(async () => !verifier.stale);
    expect(await verifier.verify(erin.tokens.access_token)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });
  });

  it("goes stale once nothing has been received for maxStalenessMs with its stream cut, however often it reconnects", async () => {
    const service = await startTestService({ WATCH_HEARTBEAT_INTERVAL: "200ms" });
    t = service;
    const proxy: TcpProxy = await startTcpProxy(service.service.grpcPort);
    try {
      const cutOff = await SessionVerifier.start({
        target: `127.0.0.1:${proxy.port}`,
        jwksUrl: `http://127.0.0.1:${service.service.httpPort}/.well-known/jwks.json`,
        maxStalenessMs: 500,
        serverTimeoutMs: 500,
      });
      verifier = cutOff;
      const frank = (await service.session("CreateSession", { user_id: "verifier-frank" })) as { session: { session_id: string }; tokens: { access_token: string } };
      expect(await cutOff.verify(frank.tokens.access_token)).toMatchObject({ valid: true, source: "local" });
      // The path goes dead (its reconnects hang, as through a dead load balancer), then the session is revoked.
      proxy.cut();
      await service.session("RevokeSession", { session_id: frank.session.session_id, reason: "logout" });
      await sleep(1_500);
      expect(cutOff.stale).toBe(true);
      // Stale: the server is asked, and with it out of reach too the answer is a refusal, never "valid".
      const answer = await cutOff.verify(frank.tokens.access_token).catch((error: unknown) => ({ rejected: error }));
      expect(answer).not.toMatchObject({ valid: true });
      expect(answer).toHaveProperty("rejected");
      proxy.restore();
      await until(async () => !cutOff.stale, 10_000);
      expect(await cutOff.verify(frank.tokens.access_token)).toEqual({ valid: false, reason: "TOKEN_REVOKED", source: "local" });
    } finally {
      await proxy.close();
    }
  });
});
