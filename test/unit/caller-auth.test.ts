import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { authorizeCall } from "../../src/grpc/interceptors/caller-auth.js";

const key = (caller: string, secret: string) => ({ caller, sha256: createHash("sha256").update(secret).digest() });
const withKey = (secret: string) => {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${secret}`);
  return metadata;
};
const create = "/sessionauthority.v1.SessionService/CreateSession";

describe("caller authorisation", () => {
  it("lets anonymous callers in only when no keys are configured and anonymity is allowed", () => {
    expect(authorizeCall({ keys: [], policy: undefined, allowAnonymous: true }, create, new grpc.Metadata())).toEqual({ caller: "anonymous" });
    expect(authorizeCall({ keys: [], policy: undefined, allowAnonymous: false }, create, new grpc.Metadata())).toMatchObject({ reason: "CALLER_UNAUTHENTICATED" });
    expect(authorizeCall({ keys: [key("a", "s")], policy: undefined, allowAnonymous: true }, create, new grpc.Metadata())).toMatchObject({ reason: "CALLER_UNAUTHENTICATED" });
  });

  it("matches policy rules by method, service wildcard or *", () => {
    const keys = [key("exact", "1"), key("service", "2"), key("all", "3"), key("none", "4")];
    const policy = new Map([
      ["exact", ["sessionauthority.v1.SessionService/CreateSession"]],
      ["service", ["sessionauthority.v1.SessionService/*"]],
      ["all", ["*"]],
    ]);
    const options = { keys, policy, allowAnonymous: false };
    expect(authorizeCall(options, create, withKey("1"))).toEqual({ caller: "exact" });
    expect(authorizeCall(options, "/sessionauthority.v1.SessionService/ListSessions", withKey("1"))).toMatchObject({ reason: "CALLER_NOT_ALLOWED" });
    expect(authorizeCall(options, "/sessionauthority.v1.SessionService/ListSessions", withKey("2"))).toEqual({ caller: "service" });
    expect(authorizeCall(options, "/sessionauthority.v1.TokenService/GetJwks", withKey("2"))).toMatchObject({ reason: "CALLER_NOT_ALLOWED" });
    expect(authorizeCall(options, "/sessionauthority.v1.TokenService/GetJwks", withKey("3"))).toEqual({ caller: "all" });
    expect(authorizeCall(options, create, withKey("4"))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(authorizeCall(options, "/grpc.health.v1.Health/Check", new grpc.Metadata())).toEqual({ caller: "public" });
  });
});
