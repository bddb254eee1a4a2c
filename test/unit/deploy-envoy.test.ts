import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { HEALTH_NAMES } from "../../src/availability.js";
import { loadConfig } from "../../src/config.js";
import { services } from "../../src/grpc/proto.js";

// No Envoy binary here: deploy/envoy and deploy/istio are checked against
// what the server actually serves (method, port, health name, the caller's
// key header), so a rename on either side fails here rather than in a mesh.

type Tree = Record<string, unknown>;
const at = (tree: unknown, ...keys: (string | number)[]): unknown =>
  keys.reduce<unknown>((node, key) => (node !== null && typeof node === "object" ? (node as Tree)[key] : undefined), tree);
const list = (tree: unknown, ...keys: (string | number)[]): Tree[] => {
  const node = at(tree, ...keys);
  return Array.isArray(node) ? (node as Tree[]) : [];
};
const seconds = (text: unknown) => (typeof text === "string" && /^\d+(\.\d+)?s$/.test(text) ? Number(text.slice(0, -1)) : Number.NaN);

const envoy = parse(readFileSync("deploy/envoy/envoy.yaml", "utf8")) as Tree;
const defaultGrpcPort = loadConfig({}).grpc.port;
const kubernetesGrpcPort = parseAllDocuments(readFileSync("deploy/kubernetes/service.yaml", "utf8"))
  .map((document) => document.toJSON() as Tree)
  .flatMap((service) => list(service, "spec", "ports"))
  .find((port) => port["name"] === "grpc")?.["port"];

describe("deploy/envoy/envoy.yaml", () => {
  const manager = list(envoy, "static_resources", "listeners", 0, "filter_chains", 0, "filters").find((filter) => filter["name"] === "envoy.filters.network.http_connection_manager");
  const filters = list(manager, "typed_config", "http_filters");
  const extAuthz = filters.find((filter) => filter["name"] === "envoy.filters.http.ext_authz");
  const clusters = list(envoy, "static_resources", "clusters");

  it("runs ext_authz (v3 API, failing closed) before the router", () => {
    expect(filters.map((filter) => filter["name"])).toEqual(["envoy.filters.http.ext_authz", "envoy.filters.http.router"]);
    const config = at(extAuthz, "typed_config");
    expect(at(config, "@type")).toBe("type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz");
    expect(at(config, "transport_api_version")).toBe("V3");
    expect(at(config, "failure_mode_allow")).toBe(false);
    expect(list(config, "allowed_headers", "patterns")).toContainEqual({ exact: "authorization", ignore_case: true });
  });

  it("calls the service's Check over HTTP/2 at the service's port, within a timeout, presenting an API key the server reads", () => {
    const grpcService = at(extAuthz, "typed_config", "grpc_service");
    expect(seconds(at(grpcService, "timeout"))).toBeGreaterThan(0);
    expect(seconds(at(grpcService, "timeout"))).toBeLessThanOrEqual(1);
    // The caller check reads x-api-key or authorization; Envoy's own authorization header would be the checked request's.
    expect(list(grpcService, "initial_metadata").map((entry) => entry["key"])).toEqual(["x-api-key"]);
    const cluster = clusters.find((candidate) => candidate["name"] === at(grpcService, "envoy_grpc", "cluster_name"));
    expect(cluster, "the ext_authz cluster is defined").toBeDefined();
    expect(at(cluster, "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "explicit_http_config", "http2_protocol_options")).toEqual({});
    const port = at(cluster, "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address", "port_value");
    expect([port, port]).toEqual([defaultGrpcPort, kubernetesGrpcPort]);
    expect(HEALTH_NAMES as readonly string[]).toContain(at(cluster, "health_checks", 0, "grpc_health_check", "service_name"));
    // Envoy calls exactly this method: it must be one the server serves.
    expect(services.envoy.service.auth.v3.Authorization.service.Check.path).toBe("/envoy.service.auth.v3.Authorization/Check");
  });

  it("routes every request to the upstream cluster it defines", () => {
    const route = at(manager, "typed_config", "route_config", "virtual_hosts", 0, "routes", 0, "route", "cluster");
    expect(clusters.map((cluster) => cluster["name"])).toContain(route);
  });
});

describe("deploy/istio", () => {
  const meshConfig = parse(String(at(parse(readFileSync("deploy/istio/mesh-config.yaml", "utf8")), "data", "mesh"))) as Tree;
  const policy = parse(readFileSync("deploy/istio/authorization-policy.yaml", "utf8")) as Tree;

  it("registers the service as an envoyExtAuthzGrpc provider that fails closed and sends the authorization header", () => {
    const provider = list(meshConfig, "extensionProviders").find((candidate) => candidate["name"] === at(policy, "spec", "provider", "name"));
    expect(provider, "the policy's provider is defined").toBeDefined();
    expect(at(provider, "envoyExtAuthzGrpc", "port")).toBe(defaultGrpcPort);
    expect(at(provider, "envoyExtAuthzGrpc", "failOpen")).toBe(false);
    expect(seconds(at(provider, "envoyExtAuthzGrpc", "timeout"))).toBeLessThanOrEqual(1);
    expect(at(provider, "envoyExtAuthzGrpc", "includeRequestHeadersInCheck")).toContain("authorization");
  });

  it("hands requests to it with an AuthorizationPolicy of action CUSTOM", () => {
    expect([at(policy, "apiVersion"), at(policy, "kind"), at(policy, "spec", "action")]).toEqual(["security.istio.io/v1", "AuthorizationPolicy", "CUSTOM"]);
  });
});
