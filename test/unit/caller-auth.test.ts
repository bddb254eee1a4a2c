import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { BlockList } from "node:net";
import type { PeerCertificate } from "node:tls";
import { forwardedClientIdentity } from "../../src/grpc/forwarded-client-cert.js";
import { authorizeCall } from "../../src/grpc/interceptors/caller-auth.js";

const noProxies = { identities: new Set<string>(), addresses: new BlockList() };

const key = (caller: string, secret: string) => ({ caller, sha256: createHash("sha256").update(secret).digest() });
const withKey = (secret: string) => {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${secret}`);
  return metadata;
};
const create = "/sessionauthority.v1.SessionService/CreateSession";

describe("caller authorisation", () => {
  it("lets anonymous callers in only when no keys are configured and anonymity is allowed", () => {
    expect(authorizeCall({ keys: [], policy: undefined, trustedProxies: noProxies, allowAnonymous: true }, create, new grpc.Metadata())).toEqual({ caller: "anonymous" });
    expect(authorizeCall({ keys: [], policy: undefined, trustedProxies: noProxies, allowAnonymous: false }, create, new grpc.Metadata())).toMatchObject({ reason: "CALLER_UNAUTHENTICATED" });
    expect(authorizeCall({ keys: [key("a", "s")], policy: undefined, trustedProxies: noProxies, allowAnonymous: true }, create, new grpc.Metadata())).toMatchObject({ reason: "CALLER_UNAUTHENTICATED" });
  });

  it("matches policy rules by method, service wildcard or *", () => {
    const keys = [key("exact", "1"), key("service", "2"), key("all", "3"), key("none", "4")];
    const policy = new Map([
      ["exact", ["sessionauthority.v1.SessionService/CreateSession"]],
      ["service", ["sessionauthority.v1.SessionService/*"]],
      ["all", ["*"]],
    ]);
    const options = { keys, policy, trustedProxies: noProxies, allowAnonymous: false };
    expect(authorizeCall(options, create, withKey("1"))).toEqual({ caller: "exact" });
    expect(authorizeCall(options, "/sessionauthority.v1.SessionService/ListSessions", withKey("1"))).toMatchObject({ reason: "CALLER_NOT_ALLOWED" });
    expect(authorizeCall(options, "/sessionauthority.v1.SessionService/ListSessions", withKey("2"))).toEqual({ caller: "service" });
    expect(authorizeCall(options, "/sessionauthority.v1.TokenService/GetJwks", withKey("2"))).toMatchObject({ reason: "CALLER_NOT_ALLOWED" });
    expect(authorizeCall(options, "/sessionauthority.v1.TokenService/GetJwks", withKey("3"))).toEqual({ caller: "all" });
    expect(authorizeCall(options, create, withKey("4"))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(authorizeCall(options, "/grpc.health.v1.Health/Check", new grpc.Metadata())).toEqual({ caller: "public" });
  });

  it("identifies a caller by certificate, then a trusted sidecar's forwarded certificate, then an API key", () => {
    const sidecarAddresses = new BlockList();
    sidecarAddresses.addSubnet("10.1.0.0", 16, "ipv4");
    const proxies = { identities: new Set(["spiffe://cluster.local/ns/istio-system/sa/gateway"]), addresses: sidecarAddresses };
    const options = { keys: [key("by-key", "k")], policy: undefined, trustedProxies: proxies, allowAnonymous: false };
    const certificate = (cn: string, san?: string) => ({ subject: { CN: cn }, subjectaltname: san }) as unknown as PeerCertificate;
    const forwarded = (value: string, base = new grpc.Metadata()) => {
      base.set("x-forwarded-client-cert", value);
      return base;
    };
    const app = 'By=spiffe://cluster.local/ns/a/sa/sidecar;Hash=abc;Subject="CN=app,O=Acme";URI=spiffe://cluster.local/ns/a/sa/app';

    expect(authorizeCall(options, create, withKey("k"), { certificate: certificate("billing", "DNS:billing, URI:spiffe://cluster.local/ns/pay/sa/billing") })).toEqual({
      caller: "spiffe://cluster.local/ns/pay/sa/billing",
    });
    expect(authorizeCall(options, create, new grpc.Metadata(), { certificate: certificate("billing", "DNS:billing") })).toEqual({ caller: "billing" });
    // A forwarded header from an untrusted peer is ignored, whatever it claims.
    expect(authorizeCall(options, create, forwarded(app, withKey("k")), { address: "192.0.2.1" })).toEqual({ caller: "by-key" });
    expect(authorizeCall(options, create, forwarded(app), { address: "192.0.2.1" })).toMatchObject({ reason: "CALLER_UNAUTHENTICATED" });
    expect(authorizeCall(options, create, forwarded(app), { certificate: certificate("someone") })).toEqual({ caller: "someone" });
    // From a trusted sidecar, by address or by its certificate, the header names the caller.
    expect(authorizeCall(options, create, forwarded(app, withKey("k")), { address: "10.1.2.3" })).toEqual({ caller: "spiffe://cluster.local/ns/a/sa/app" });
    expect(authorizeCall(options, create, forwarded(app), { address: "::ffff:10.1.2.3" })).toEqual({ caller: "spiffe://cluster.local/ns/a/sa/app" });
    expect(
      authorizeCall(options, create, forwarded('Subject="CN=ledger,O=Acme"'), { certificate: certificate("gw", "URI:spiffe://cluster.local/ns/istio-system/sa/gateway") }),
    ).toEqual({ caller: "ledger" });
    expect(authorizeCall(options, create, forwarded("Hash=abc"), { address: "10.1.2.3" })).toMatchObject({ reason: "CALLER_UNAUTHENTICATED" });
    expect(authorizeCall(options, create, withKey("k"), { address: "10.1.2.3" })).toEqual({ caller: "by-key" });
  });
});

describe("x-forwarded-client-cert", () => {
  it("reads the nearest proxy's element, quoted values and escapes included", () => {
    expect(forwardedClientIdentity("URI=spiffe://td/ns/a/sa/first,URI=spiffe://td/ns/b/sa/last")).toBe("spiffe://td/ns/b/sa/last");
    expect(forwardedClientIdentity('By=spiffe://td/x;Hash="a;b=c";Subject="CN=billing,OU=payments";DNS=a.example')).toBe("billing");
    expect(forwardedClientIdentity("URI=https://not-spiffe;DNS=x")).toBeUndefined();
    expect(forwardedClientIdentity('Subject="CN=unterminated')).toBeUndefined();
    expect(forwardedClientIdentity("garbage")).toBeUndefined();
    // An escaped comma stays inside its attribute: no CN can be smuggled in an OU.
    expect(forwardedClientIdentity('Subject="OU=x\\,CN=admin,CN=bob"')).toBe("bob");
    expect(forwardedClientIdentity('Subject="CN=a\\,b"')).toBeUndefined();
    // A CN shaped like a SPIFFE ID is no identity at all.
    expect(forwardedClientIdentity('Subject="CN=spiffe://cluster.local/ns/a/sa/admin"')).toBeUndefined();
    expect(forwardedClientIdentity("URI=spiffe://td/ns/a/sa/caf\u00e9")).toBeUndefined();
    expect(forwardedClientIdentity("")).toBeUndefined();
  });
});
