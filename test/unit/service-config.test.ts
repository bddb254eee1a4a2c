import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { services } from "../../src/grpc/proto.js";

// The gRPC service config shipped for clients (clients/service-config.json):
// a timeout for every RPC, retries only where a repeat cannot change the outcome.

interface MethodConfig {
  readonly name: readonly { readonly service: string; readonly method: string }[];
  readonly timeout?: string;
  readonly retryPolicy?: { readonly retryableStatusCodes: readonly string[] };
}

const config = JSON.parse(readFileSync("clients/service-config.json", "utf8")) as { methodConfig: MethodConfig[] };
const v1 = services.sessionauthority.v1;
const serviceDefinitions = { SessionService: v1.SessionService.service, TokenService: v1.TokenService.service, AuditService: v1.AuditService.service };
const protoText = ["session_service", "token_service", "audit_service"].map((file) => readFileSync(`proto/sessionauthority/v1/${file}.proto`, "utf8")).join("\n");

/** The comment block right above `rpc <method>(` in the protos. */
function rpcComment(method: string): string {
  const lines = protoText.split("\n");
  const at = lines.findIndex((line) => new RegExp(`^\\s*rpc ${method}\\(`).test(line));
  const comment: string[] = [];
  for (let i = at - 1; i >= 0 && /^\s*\/\//.test(lines[i] ?? ""); i -= 1) comment.unshift((lines[i] ?? "").replace(/^\s*\/\/\s?/, ""));
  return comment.join(" ");
}

const configFor = (service: string, method: string) =>
  config.methodConfig.filter((entry) => entry.name.some((name) => name.service === `sessionauthority.v1.${service}` && name.method === method));

describe("clients/service-config.json", () => {
  const rpcs = Object.entries(serviceDefinitions).flatMap(([service, definition]) =>
    Object.entries(definition).map(([method, { responseStream }]) => ({ service, method, streaming: responseStream })),
  );

  it("names every RPC exactly once, with a timeout for every unary one", () => {
    expect(rpcs.length).toBeGreaterThan(20);
    for (const { service, method, streaming } of rpcs) {
      const entries = configFor(service, method);
      expect(entries, `${service}/${method}`).toHaveLength(1);
      if (!streaming) expect(entries[0]?.timeout, `${service}/${method}`).toMatch(/^\d+(\.\d+)?s$/);
    }
    const named = config.methodConfig.flatMap((entry) => entry.name);
    expect(named).toHaveLength(rpcs.length);
  });

  it("has every RPC's proto comment say whether it is idempotent", () => {
    for (const { service, method } of rpcs) expect(rpcComment(method), `${service}/${method}`).toMatch(/idempotent|No side effect/i);
  });

  it("retries only RPCs whose proto comment says they are idempotent, and only on UNAVAILABLE", () => {
    const retried = rpcs.filter(({ service, method }) => configFor(service, method)[0]?.retryPolicy !== undefined);
    expect(retried.length).toBeGreaterThan(10);
    for (const { service, method, streaming } of retried) {
      const comment = rpcComment(method);
      expect(streaming, `${service}/${method}`).toBe(false);
      expect(comment, `${service}/${method}`).toMatch(/\bidempotent\b|\bNo side effect\b/i);
      expect(comment, `${service}/${method}`).not.toMatch(/Not idempotent|Idempotent only|bumps again/);
      expect(configFor(service, method)[0]?.retryPolicy?.retryableStatusCodes).toEqual(["UNAVAILABLE"]);
    }
    // The ones a blind retry could harm are never retried by the channel.
    for (const method of ["CreateSession", "RefreshTokens", "ReportSuspiciousActivity", "RevokeUserTokens", "RevokeAllTokens", "RotateSigningKey", "RevokeSigningKey"]) {
      expect(retried.map((rpc) => rpc.method)).not.toContain(method);
    }
  });

  describe("in a grpc-js channel", () => {
    let server: grpc.Server;
    let client: grpc.Client & Record<string, (...args: never[]) => unknown>;
    const attempts = new Map<string, number>();
    const count = (method: string) => attempts.set(method, (attempts.get(method) ?? 0) + 1).get(method) ?? 0;
    const unavailable = { code: grpc.status.UNAVAILABLE, details: "try again" };

    beforeAll(async () => {
      // A stand-in server, so each RPC can fail the way the test needs; the service's own answers are tested elsewhere.
      server = new grpc.Server();
      server.addService(v1.TokenService.service, {
        GetJwks: (_call: unknown, callback: grpc.sendUnaryData<object>) =>
          count("GetJwks") === 1 ? callback(unavailable) : callback(null, { keys: [] }),
        RevokeAllTokens: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
          count("RevokeAllTokens");
          callback(unavailable);
        },
        VerifyAccessToken: () => {
          count("VerifyAccessToken");
        },
      } as unknown as grpc.UntypedServiceImplementation);
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
      );
      const TokenService = v1.TokenService as unknown as new (target: string, credentials: grpc.ChannelCredentials, options: object) => typeof client;
      client = new TokenService(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { "grpc.service_config": JSON.stringify(config) });
    });
    afterAll(() => {
      client?.close();
      server?.forceShutdown();
    });

    const call = (method: string) =>
      new Promise<grpc.status>((resolve) => {
        (client[method] as unknown as (request: object, callback: (error: grpc.ServiceError | null) => void) => void)({}, (error) => resolve(error?.code ?? grpc.status.OK));
      });

    it("retries an idempotent RPC the server answered UNAVAILABLE, and not one that is not", async () => {
      expect(await call("GetJwks")).toBe(grpc.status.OK);
      expect(attempts.get("GetJwks")).toBe(2);
      expect(await call("RevokeAllTokens")).toBe(grpc.status.UNAVAILABLE);
      expect(attempts.get("RevokeAllTokens")).toBe(1);
    });

    it("gives a call its method's timeout when the caller sets none", async () => {
      expect(await call("VerifyAccessToken")).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(attempts.get("VerifyAccessToken")).toBe(1);
    });
  });
});
