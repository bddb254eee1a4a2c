import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface SideServerHandlers {
  readonly registry: Registry;
  /** Public keys as a JWK Set document. */
  jwks(): object;
  readonly jwksMaxAgeSeconds: number;
  /** Ready to take traffic: serving and the database answers. */
  ready(): Promise<boolean>;
}

/**
 * The HTTP side port: Prometheus metrics, probes and the JWKS. Liveness
 * (/healthz) never touches the database, so a database blip does not make
 * an orchestrator restart every replica.
 */
export function startSideServer(handlers: SideServerHandlers, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": type, ...headers }).end(request.method === "HEAD" ? undefined : body);
    };
    if (request.method !== "GET" && request.method !== "HEAD") return send(405, "text/plain", "method not allowed\n");
    switch (path) {
      case "/healthz":
        return send(200, "text/plain", "ok\n");
      case "/readyz":
        handlers.ready().then(
          (ready) => send(ready ? 200 : 503, "text/plain", ready ? "ready\n" : "not ready\n"),
          () => send(503, "text/plain", "not ready\n"),
        );
        return;
      case "/metrics":
        handlers.registry.metrics().then(
          (text) => send(200, handlers.registry.contentType, text),
          () => send(500, "text/plain", "metrics unavailable\n"),
        );
        return;
      case "/.well-known/jwks.json":
        return send(200, "application/jwk-set+json", JSON.stringify(handlers.jwks()), {
          "cache-control": `public, max-age=${handlers.jwksMaxAgeSeconds}`,
        });
      default:
        return send(404, "text/plain", "not found\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}
