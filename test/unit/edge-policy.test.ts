import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { routeFor } from "../../src/domain/edge-routes.js";
import { parseEdgePolicy } from "../../src/edge-policy-file.js";

const policyFile = (content: string) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "sa-edge-policy-")), "edge.json");
  writeFileSync(file, content);
  return file;
};

describe("the mesh edge's configuration (EXT_AUTHZ_*)", () => {
  it("defaults to x-session-id, x-user-id and x-org-id, a realm, and no routes (every request needs a token)", () => {
    expect(loadConfig({}).extAuthz).toEqual({ routes: [], realm: "session-authority", headers: { sessionId: "x-session-id", userId: "x-user-id", orgId: "x-org-id" } });
    expect(routeFor([], "any.example.com", "/")).toMatchObject({ public: false, require: {} });
  });

  it("takes other header names, lower-cased, and refuses ones that are not header names, that route or authenticate, or that repeat", () => {
    expect(loadConfig({ EXT_AUTHZ_USER_ID_HEADER: "X-Auth-User" }).extAuthz.headers.userId).toBe("x-auth-user");
    expect(() => loadConfig({ EXT_AUTHZ_USER_ID_HEADER: "x user" })).toThrow(/EXT_AUTHZ_USER_ID_HEADER/);
    expect(() => loadConfig({ EXT_AUTHZ_ORG_ID_HEADER: "Authorization" })).toThrow(/EXT_AUTHZ_ORG_ID_HEADER/);
    expect(() => loadConfig({ EXT_AUTHZ_ORG_ID_HEADER: "x-user-id" })).toThrow(/must be three different headers/);
    expect(() => loadConfig({ EXT_AUTHZ_REALM: 'a"b' })).toThrow(/EXT_AUTHZ_REALM/);
  });

  it("reads routes from EXT_AUTHZ_POLICY_FILE, acr as one value or a list", () => {
    const file = policyFile(
      JSON.stringify({
        routes: [
          { path_prefix: "/healthz", public: true },
          { host: "billing.example.com", path_prefix: "/", require: { org_ids: ["org-b"], acr: "urn:loa:2", amr: ["mfa"] } },
          { path_prefix: "/admin", require: { acr: ["urn:loa:2", "urn:loa:3"] } },
        ],
      }),
    );
    expect(loadConfig({ EXT_AUTHZ_POLICY_FILE: file }).extAuthz.routes).toEqual([
      { host: undefined, pathPrefix: "/healthz", public: true, require: { orgIds: undefined, acr: undefined, amr: undefined } },
      { host: "billing.example.com", pathPrefix: "/", public: false, require: { orgIds: ["org-b"], acr: ["urn:loa:2"], amr: ["mfa"] } },
      { host: undefined, pathPrefix: "/admin", public: false, require: { orgIds: undefined, acr: ["urn:loa:2", "urn:loa:3"], amr: undefined } },
    ]);
  });

  it("names the field that is wrong, under the variable's name", () => {
    const bad = (routes: unknown) => () => loadConfig({ EXT_AUTHZ_POLICY_FILE: policyFile(JSON.stringify({ routes })) });
    expect(bad([{ path_prefix: "/", require: { acr: [] } }])).toThrow(/EXT_AUTHZ_POLICY_FILE: routes\.0\.require\.acr/);
    expect(bad([{ path_prefix: "/a" }, { path_prefix: "b" }])).toThrow(/routes\.1\.path_prefix: must start with "\/"/);
    expect(bad([{ path_prefix: "/", public: false }])).toThrow(/routes\.0\.public/);
    expect(bad([{ path_prefix: "/", public: true, require: { amr: ["mfa"] } }])).toThrow(/routes\.0\.require: a public route cannot require claims/);
    expect(bad([{ path_prefix: "/", require: { scopes: ["x"] } }])).toThrow(/routes\.0\.require/);
    expect(bad([{ path: "/" }])).toThrow(/routes\.0/);
    expect(() => loadConfig({ EXT_AUTHZ_POLICY_FILE: policyFile("{ not json") })).toThrow(ConfigError);
    expect(() => loadConfig({ EXT_AUTHZ_POLICY_FILE: "/nonexistent/edge.json" })).toThrow(/EXT_AUTHZ_POLICY_FILE: cannot read/);
    expect(() => parseEdgePolicy({})).toThrow(/routes/);
  });

  it("takes the first route that matches, by host (without case, with or without a port) and path prefix, ignoring the query", () => {
    const routes = parseEdgePolicy({
      routes: [
        { host: "a.example.com", path_prefix: "/x", public: true },
        { host: "b.example.com:8443", path_prefix: "/", public: true },
        { path_prefix: "/x", require: { amr: ["mfa"] } },
      ],
    });
    expect(routeFor(routes, "A.Example.com:443", "/x/y?z=1").public).toBe(true);
    expect(routeFor(routes, "b.example.com:8443", "/").public).toBe(true);
    expect(routeFor(routes, "b.example.com", "/").public).toBe(false);
    expect(routeFor(routes, "c.example.com", "/x?y").require.amr).toEqual(["mfa"]);
    expect(routeFor(routes, "c.example.com", "/?x").require).toEqual({});
  });
});
