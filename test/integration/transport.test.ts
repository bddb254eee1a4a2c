import { connect } from "node:net";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeErrorInfo } from "../../src/grpc/status.js";
import { healthCheck } from "../support/health.js";
import { startTestService, type TestService } from "../support/test-service.js";

const run = promisify(execFile);

describe("the transport around the services", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("answers grpc.health.v1 SERVING for the server and each service", async () => {
    for (const service of ["", "sessionauthority.v1.SessionService", "sessionauthority.v1.TokenService"]) {
      expect(await healthCheck(t.service.grpcPort, service)).toBe("SERVING");
    }
  });

  it("serves reflection that `buf curl` can use to list and call both services", async () => {
    const url = `http://127.0.0.1:${t.service.grpcPort}`;
    const flags = ["curl", "--protocol", "grpc", "--http2-prior-knowledge"];
    const { stdout } = await run("node_modules/.bin/buf", [...flags, "--list-methods", url]);
    expect(stdout).toContain("sessionauthority.v1.SessionService/CreateSession");
    expect(stdout).toContain("sessionauthority.v1.TokenService/RefreshTokens");
    const created = await run("node_modules/.bin/buf", [...flags, "-d", '{"user_id":"from-buf-curl"}', `${url}/sessionauthority.v1.SessionService/CreateSession`]);
    expect(JSON.parse(created.stdout)).toMatchObject({ session: { userId: "from-buf-curl", state: "SESSION_STATE_ACTIVE" } });
  });

  it("ends a WatchRevocations stream whose request is not protobuf with INVALID_ARGUMENT", async () => {
    const client = new grpc.Client(`127.0.0.1:${t.service.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const stream = client.makeServerStreamRequest(
        "/sessionauthority.v1.TokenService/WatchRevocations",
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.from("not protobuf at all"),
      );
      const streamError = await new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
      expect(streamError.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(decodeErrorInfo(streamError.metadata)?.reason).toBe("INVALID_ARGUMENT");
    } finally {
      client.close();
    }
  });

  it("answers bytes that are not a protobuf message with INVALID_ARGUMENT, not INTERNAL", async () => {
    const client = new grpc.Client(`127.0.0.1:${t.service.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const raw = (bytes: Buffer) =>
        new Promise<grpc.ServiceError | undefined>((resolve) => {
          client.makeUnaryRequest(
            "/sessionauthority.v1.SessionService/CreateSession",
            (value: Buffer) => value,
            (value: Buffer) => value,
            bytes,
            (error) => resolve(error ?? undefined),
          );
        });
      for (const bytes of [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x0a]), Buffer.from([0x0f]), Buffer.from("not protobuf at all")]) {
        const error = await raw(bytes);
        expect(error?.code, bytes.toString("hex")).toBe(grpc.status.INVALID_ARGUMENT);
      }
      const oversized = await raw(Buffer.concat([Buffer.from([0x0a, 0x80, 0x80, 0x08]), Buffer.alloc(131_072, 0x41)]));
      expect(oversized?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
  });

  it("serves probes, metrics and the JWKS on the HTTP side port", async () => {
    const base = `http://127.0.0.1:${t.service.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const jwks = await fetch(`${base}/.well-known/jwks.json`);
    expect(jwks.headers.get("cache-control")).toBe("public, max-age=300");
    const body = (await jwks.json()) as { keys: { kid: string; d?: string }[] };
    const viaGrpc = await t.token("GetJwks", {});
    expect(body.keys.map((key) => key.kid)).toEqual(viaGrpc.keys.map((key) => key.kid));
    expect(body.keys.every((key) => key.d === undefined)).toBe(true);
    expect(viaGrpc.max_age?.seconds).toBe("300");
    await t.session("ListSessions", { user_id: "metrics-check" });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/grpc_server_handled_total\{grpc_method="\/sessionauthority.v1.SessionService\/ListSessions",grpc_code="OK"\} [1-9]/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    // A request target that is no URL at all is answered, and the server lives on.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(t.service.httpPort, "127.0.0.1", () => socket.end("GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n"));
      let answer = "";
      socket.on("data", (chunk) => (answer += chunk.toString()));
      socket.on("end", () => resolve(answer));
      socket.on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
