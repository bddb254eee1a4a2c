import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerMiddleware, fastifyBearerHook, SessionVerifier, type SessionClaims } from "../../clients/ts/src/index.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { waitUntil } from "../support/wait.js";

// The embedded verifier mounted in real HTTP servers (Express, Fastify, and
// plain node:http as Connect calls middleware), each called over real HTTP.

interface Mounted {
  readonly name: string;
  readonly url: string;
  close(): Promise<void>;
}

/** What every app's /me answers: the claims the handler saw on the request. */
const seen = (auth: SessionClaims | undefined) => ({ sub: auth?.sub, sid: auth?.["sid"], client_id: auth?.["client_id"] });

async function listening(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closing = (server: Server) => () => new Promise<void>((resolve) => server.close(() => resolve()));

async function mountExpress(verifier: SessionVerifier): Promise<Mounted> {
  const app = express();
  app.use(bearerMiddleware(verifier, { realm: "orders" }));
  app.get("/me", (req, res) => {
    res.json(seen((req as typeof req & { auth?: SessionClaims }).auth));
  });
  const server = createServer(app);
  return { name: "express", url: await listening(server), close: closing(server) };
}

async function mountFastify(verifier: SessionVerifier): Promise<Mounted> {
  const app = Fastify();
  app.decorateRequest("auth", undefined);
  app.addHook("onRequest", fastifyBearerHook(verifier, { realm: "orders" }));
  app.get("/me", async (request) => seen((request as typeof request & { auth?: SessionClaims }).auth));
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { name: "fastify", url, close: () => app.close() };
}

async function mountConnectStyle(verifier: SessionVerifier): Promise<Mounted> {
  const middleware = bearerMiddleware(verifier, { realm: "orders" });
  const server = createServer((req, res) => {
    middleware(req, res, (error?: unknown) => {
      res.statusCode = error === undefined ? 200 : 500;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(seen((req as typeof req & { auth?: SessionClaims }).auth)));
    });
  });
  return { name: "node:http (Connect)", url: await listening(server), close: closing(server) };
}

async function get(url: string, authorization?: string) {
  const response = await fetch(`${url}/me`, { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, challenge: response.headers.get("www-authenticate"), body: (await response.json()) as Record<string, unknown> };
}

describe("the embedded verifier as HTTP middleware", () => {
  let t: TestService;
  let proxy: TcpProxy;
  let verifier: SessionVerifier;
  let apps: Mounted[] = [];

  beforeAll(async () => {
    t = await startTestService({ WATCH_HEARTBEAT_INTERVAL: "200ms" });
    // The verifier reaches gRPC through a proxy the last test cuts.
    proxy = await startTcpProxy(t.service.grpcPort);
    verifier = await SessionVerifier.start({
      target: `127.0.0.1:${proxy.port}`,
      jwksUrl: `http://127.0.0.1:${t.service.httpPort}/.well-known/jwks.json`,
      maxStalenessMs: 400,
      serverTimeoutMs: 400,
    });
    apps = [await mountExpress(verifier), await mountFastify(verifier), await mountConnectStyle(verifier)];
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    verifier?.close();
    await proxy?.close();
    await t?.stop();
  });

  const login = async (user: string) => {
    const created = await t.session("CreateSession", { user_id: user });
    return { sessionId: created.session?.session_id ?? "", token: created.tokens?.access_token ?? "" };
  };

  it("hands a valid token's claims to the handler", async () => {
    const alice = await login("middleware-alice");
    for (const app of apps) {
      expect(await get(app.url, `Bearer ${alice.token}`), app.name).toEqual({
        status: 200,
        challenge: null,
        body: { sub: "middleware-alice", sid: alice.sessionId, client_id: "anonymous" },
      });
    }
  });

  it("answers 401 with an RFC 6750 challenge naming the reason for a revoked or forged token, and a bare one without a token", async () => {
    const bob = await login("middleware-bob");
    await t.session("RevokeSession", { session_id: bob.sessionId, reason: "logout" });
    await waitUntil(async () => !(await verifier.verify(bob.token)).valid);
    const [header, payload, signature] = (await login("middleware-carol")).token.split(".") as [string, string, string];
    const forged = `${header}.${payload.slice(0, -2)}AA.${signature}`;
    for (const app of apps) {
      expect(await get(app.url, `Bearer ${bob.token}`), app.name).toEqual({
        status: 401,
        challenge: 'Bearer realm="orders", error="invalid_token", error_description="TOKEN_REVOKED"',
        body: { error: "invalid_token", error_description: "TOKEN_REVOKED" },
      });
      expect((await get(app.url, `bearer ${forged}`)).challenge, app.name).toMatch(/^Bearer realm="orders", error="invalid_token", error_description="TOKEN_(SIGNATURE_INVALID|INVALID)"$/);
      for (const missing of [undefined, "Basic YWxpY2U6c2VjcmV0"]) {
        expect(await get(app.url, missing), app.name).toEqual({ status: 401, challenge: 'Bearer realm="orders"', body: { error: "unauthorized" } });
      }
      const malformed = await get(app.url, "Bearer two tokens");
      expect([malformed.status, malformed.challenge], app.name).toEqual([400, 'Bearer realm="orders", error="invalid_request", error_description="malformed Authorization header"']);
    }
  });

  it("answers 503, never 200 or 401, while the verifier is stale and the server out of reach", async () => {
    const dave = await login("middleware-dave");
    proxy.cut();
    await waitUntil(async () => verifier.stale, 10_000);
    for (const app of apps) {
      const answer = await fetch(`${app.url}/me`, { headers: { authorization: `Bearer ${dave.token}` } });
      expect([answer.status, answer.headers.get("retry-after"), answer.headers.get("www-authenticate")], app.name).toEqual([503, "1", null]);
      expect(await answer.json()).toEqual({ error: "temporarily_unavailable" });
    }
    proxy.restore();
    await waitUntil(async () => !verifier.stale, 10_000);
    expect((await get(apps[0]?.url ?? "", `Bearer ${dave.token}`)).status).toBe(200);
  });
});
