import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { writePolicyFile } from "../support/policy-file.js";
import { apiKeyMetadata, failure, apiKeysSetting } from "../support/clients.js";
import { healthCheck } from "../support/health.js";
import { startTestService, type TestService } from "../support/test-service.js";


describe("callers and policy", () => {
  const loginKey = "login-service-key-3f9a";
  const adminKey = "admin-console-key-77c1";
  const platformKey = "platform-team-key-5d20";
  const oncallKey = "security-oncall-key-a41e";
  let t: TestService;

  beforeAll(async () => {
    const policyFile = await writePolicyFile({
          "login-service": ["sessionauthority.v1.SessionService/CreateSession", "sessionauthority.v1.SessionService/GetSession"],
          // Ends sessions other callers created: only with the capability that names it.
          "admin-console": ["sessionauthority.v1.SessionService/*", "sessionauthority.v1.SessionService/RevokeUserSessions:any_caller", "sessionauthority.v1.TokenService/GetJwks"],
          "platform-team": ["*"],
          "security-oncall": ["sessionauthority.v1.TokenService/RevokeAllTokens", "sessionauthority.v1.TokenService/RotateSigningKey"],
        });
    t = await startTestService({
      API_KEYS: apiKeysSetting({ "login-service": loginKey, "admin-console": adminKey, "platform-team": platformKey, "security-oncall": oncallKey }),
      POLICY_FILE: policyFile,
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("refuses calls without a key, or with an unknown one, with UNAUTHENTICATED", async () => {
    const none = await failure(t.session("CreateSession", { user_id: "u" }));
    expect([none.codeName, none.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "CALLER_UNAUTHENTICATED"]);
    const wrong = await failure(t.session("CreateSession", { user_id: "u" }, apiKeyMetadata("not-a-key")));
    expect(wrong.errorInfo?.reason).toBe("CALLER_UNAUTHENTICATED");
  });

  it("lets a caller call what the policy names, by either header, and records who created the session", async () => {
    const created = await t.session("CreateSession", { user_id: "u" }, apiKeyMetadata(loginKey));
    expect(created.session?.created_by).toBe("login-service");
    const viaHeader = await t.session("GetSession", { session_id: created.session?.session_id ?? "" }, apiKeyMetadata(loginKey, "x-api-key"));
    expect(viaHeader.session?.created_by).toBe("login-service");
    expect(t.logLines.some((line) => line.includes('"caller":"login-service"') && line.includes("CreateSession"))).toBe(true);
    expect(t.logLines.join("\n")).not.toContain(loginKey);
  });

  it("writes one JSON line per call with the request id, caller, method, code and duration, refused calls included", async () => {
    const metadata = apiKeyMetadata(loginKey);
    metadata.set("x-request-id", "req-42.a:b");
    await t.session("CreateSession", { user_id: "logged-call" }, metadata);
    const refused = apiKeyMetadata(loginKey);
    refused.set("x-request-id", "not a valid id!");
    await failure(t.session("RevokeUserSessions", { user_id: "logged-call" }, refused));
    const calls = t.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line["msg"] === "call");
    const given = calls.filter((line) => line["requestId"] === "req-42.a:b");
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({ caller: "login-service", method: "/sessionauthority.v1.SessionService/CreateSession", code: "OK", level: 30 });
    expect(typeof given[0]?.["durationMs"]).toBe("number");
    // An id that is not a plain token is replaced by a generated one rather than copied into the log.
    const denied = calls.filter((line) => line["method"] === "/sessionauthority.v1.SessionService/RevokeUserSessions" && line["code"] === "PERMISSION_DENIED");
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.at(-1)?.["requestId"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.logLines.join("\n")).not.toContain("not a valid id!");
  });

  it("sends the request id back in the response headers, and in the trailers of a failed call", async () => {
    const headers = new Promise<grpc.Metadata>((resolve, reject) => {
      const metadata = apiKeyMetadata(loginKey);
      metadata.set("x-request-id", "req-echo-1");
      const call = t.sessions.createSession({ user_id: "echoed" }, metadata, (error) => error && reject(error));
      call.on("metadata", resolve);
    });
    expect((await headers).get("x-request-id")).toEqual(["req-echo-1"]);
    const refused = await new Promise<grpc.ServiceError>((resolve) => {
      const metadata = apiKeyMetadata(loginKey);
      metadata.set("x-request-id", "req-echo-2");
      t.sessions.revokeUserSessions({ user_id: "echoed" }, metadata, (error) => error && resolve(error));
    });
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(refused.metadata.get("x-request-id")).toEqual(["req-echo-2"]);
    // One made up by the server when the caller sent none, the same one it logged.
    const generated = await new Promise<string>((resolve, reject) => {
      const call = t.sessions.createSession({ user_id: "echoed" }, apiKeyMetadata(loginKey), (error) => error && reject(error));
      call.on("metadata", (metadata: grpc.Metadata) => resolve(String(metadata.get("x-request-id")[0])));
    });
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    await vi.waitFor(() => expect(t.logLines.some((line) => line.includes(`"requestId":"${generated}"`))).toBe(true));
  });

  it("refuses what the policy does not name with PERMISSION_DENIED", async () => {
    const denied = await failure(t.session("RevokeUserSessions", { user_id: "u" }, apiKeyMetadata(loginKey)));
    expect([denied.codeName, denied.errorInfo?.reason]).toEqual(["PERMISSION_DENIED", "CALLER_NOT_ALLOWED"]);
    expect((await failure(t.token("GetJwks", {}, apiKeyMetadata(loginKey)))).codeName).toBe("PERMISSION_DENIED");
    expect((await t.session("RevokeUserSessions", { user_id: "u" }, apiKeyMetadata(adminKey))).revoked_count).toBe(1);
  });

  it("grants RevokeAllTokens, key commands and DeleteUserData only to callers named for them, never through a wildcard", async () => {
    const platform = apiKeyMetadata(platformKey);
    // "*" covers ordinary calls…
    expect((await t.token("ListSigningKeys", {}, platform)).keys.length).toBeGreaterThan(0);
    // …but not the privileged ones.
    for (const call of [
      t.token("RevokeAllTokens", { reason: "wildcard" }, platform),
      t.token("RotateSigningKey", {}, platform),
      t.token("RevokeSigningKey", { kid: "any" }, platform),
      t.session("DeleteUserData", { user_id: "u" }, platform),
      t.session("DeleteUserData", { user_id: "u" }, apiKeyMetadata(adminKey)),
    ]) {
      const denied = await failure(call);
      expect([denied.codeName, denied.errorInfo?.reason]).toEqual(["PERMISSION_DENIED", "CALLER_NOT_ALLOWED"]);
    }
    const oncall = apiKeyMetadata(oncallKey);
    expect(Number((await t.token("RevokeAllTokens", { reason: "drill" }, oncall)).global_version)).toBeGreaterThan(0);
    expect((await t.token("RotateSigningKey", {}, oncall)).next_key?.stage).toBe("SIGNING_KEY_STAGE_PUBLISHED");
  });

  it("does not trust a caller name sent by the client", async () => {
    const metadata = apiKeyMetadata(loginKey);
    metadata.set("x-session-authority-verified-caller", "admin-console");
    const created = await t.session("CreateSession", { user_id: "spoofer" }, metadata);
    expect(created.session?.created_by).toBe("login-service");
  });

  it("keeps health checks open to probes without a key", async () => {
    expect(await healthCheck(t.service.grpcPort)).toBe("SERVING");
  });
});
