import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { ServingStatus } from "../availability.js";
import { baseUrlOf, DISCOVERY_PATHS, discoveryDocument, JWKS_PATH, type DiscoverySettings } from "./discovery.js";

export interface SideServerHandlers {
  readonly registry: Registry;
  /** Public keys as a JWK Set document. */
  jwks(): { readonly keys: readonly { readonly alg?: string | undefined }[] };
  readonly jwksMaxAgeSeconds: number;
  /** What the discovery documents publish. */
  readonly discovery: DiscoverySettings;
  /** Health by name, as gRPC health reports it. */
  health(): ReadonlyMap<string, ServingStatus>;
}

type Send = (status: number, type: string, body: string) => void;

/**
 * Ready while the replica is useful: serving, and either the database or
 * verification works. Without the database it stays ready (degraded), so a
 * load balancer keeps sending it verification and JWKS traffic; a probe
 * that needs a whole service asks for it with `?service=`.
 */
function readiness(health: ReadonlyMap<string, ServingStatus>, service: string | null, send: Send): void {
  const services = Object.fromEntries([...health].filter(([name]) => name !== ""));
  if (service !== null) {
    const status = health.get(service);
    if (status === undefined) return send(404, "application/json", `${JSON.stringify({ error: "unknown service", services: Object.keys(services) })}\n`);
    return send(status === "SERVING" ? 200 : 503, "application/json", `${JSON.stringify({ service, status })}\n`);
  }
  const all = [...health.values()].every((status) => status === "SERVING");
  const useful = health.get("") === "SERVING" && Object.values(services).some((status) => status === "SERVING");
  const status = all ? "ready" : useful ? "degraded" : "not_ready";
  send(useful ? 200 : 503, "application/json", `${JSON.stringify({ status, services })}\n`);
}

/**
 * The HTTP side port: Prometheus metrics, probes, the JWKS and the discovery
 * documents that point stock verifiers at it. Liveness
 * (/healthz) never touches the database, so a database blip does not make
 * an orchestrator restart every replica.
 */
export function startSideServer(handlers: SideServerHandlers, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": type, ...headers }).end(request.method === "HEAD" ? undefined : body);
    };
    if (request.method !== "GET" && request.method !== "HEAD") return send(405, "text/plain", "method not allowed\n");
    let url: URL;
    try {
      url = new URL(request.url ?? "/", "http://side-port");
    } catch {
      // A request target that is not a URL at all (e.g. "http://[") must not reach the process's error handler.
      return send(400, "text/plain", "bad request target\n");
    }
    const path = url.pathname;
    switch (path) {
      case "/healthz":
        return send(200, "text/plain", "ok\n");
      case "/readyz":
        return readiness(handlers.health(), url.searchParams.get("service"), send);
      case "/metrics":
        handlers.registry.metrics().then(
          (text) => send(200, handlers.registry.contentType, text),
          () => send(500, "text/plain", "metrics unavailable\n"),
        );
        return;
      case JWKS_PATH:
        return send(200, "application/jwk-set+json", JSON.stringify(handlers.jwks()), {
          "cache-control": `public, max-age=${handlers.jwksMaxAgeSeconds}`,
        });
      default: {
        if (!DISCOVERY_PATHS.has(path)) return send(404, "text/plain", "not found\n");
        const base = baseUrlOf(request, handlers.discovery.publicBaseUrl);
        if (base === undefined) return send(400, "text/plain", "a Host header naming host[:port] is needed (or set PUBLIC_BASE_URL)\n");
        const algorithms = handlers.jwks().keys.flatMap((key) => (key.alg === undefined ? [] : [key.alg]));
        return send(200, "application/json", JSON.stringify(discoveryDocument(handlers.discovery.issuer, base, algorithms)), {
          // As long as the JWKS: the document changes only when the key algorithms do.
          "cache-control": `public, max-age=${handlers.jwksMaxAgeSeconds}`,
        });
      }
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}
