import { request } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { freePort } from "../support/free-port.js";
import { startTestService, type TestService } from "../support/test-service.js";

const DISCOVERY = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] as const;

/** A GET with a Host header of our choosing (fetch forbids setting it). */
function getWithHost(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const call = request({ host: "127.0.0.1", port, path, headers: { host } }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    call.on("error", reject).end();
  });
}

describe("discovery documents on the side port", () => {
  let t: TestService | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it("publish the issuer and the absolute JWKS URL of the address asked, nothing the service does not implement, cached like the JWKS", async () => {
    t = await startTestService({ TOKEN_ISSUER: "https://sessions.example.com", JWKS_MAX_AGE: "2m" });
    const base = `http://127.0.0.1:${t.service.httpPort}`;
    for (const path of DISCOVERY) {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(response.headers.get("cache-control")).toBe("public, max-age=120");
      expect(await response.json()).toEqual({
        issuer: "https://sessions.example.com",
        jwks_uri: `${base}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: ["EdDSA"],
      });
    }
    // Another name for this replica (a Service's DNS name) gets a jwks_uri under that name.
    const viaService = await getWithHost(t.service.httpPort, DISCOVERY[0], "session-authority.auth.svc:8080");
    expect(JSON.parse(viaService.body)).toMatchObject({ jwks_uri: "http://session-authority.auth.svc:8080/.well-known/jwks.json" });
    // A Host that is not a bare host[:port] cannot steer the jwks_uri anywhere.
    for (const host of ["evil.example/keys?", "user@evil.example", "evil.example:80/x"]) {
      expect((await getWithHost(t.service.httpPort, DISCOVERY[0], host)).status).toBe(400);
    }
  });

  it("build the jwks_uri on PUBLIC_BASE_URL behind a proxy, whatever Host the request carries", async () => {
    t = await startTestService({ PUBLIC_BASE_URL: "https://gateway.example.com/session-authority/", SIGNING_ALGORITHM: "ES256" });
    for (const path of DISCOVERY) {
      const answer = await getWithHost(t.service.httpPort, path, "10.0.0.7:8080");
      expect(JSON.parse(answer.body)).toEqual({
        issuer: "session-authority",
        jwks_uri: "https://gateway.example.com/session-authority/.well-known/jwks.json",
        id_token_signing_alg_values_supported: ["ES256"],
      });
    }
  });

  it("let a verifier configure itself from the issuer URL alone, as openid-client and go-oidc do", async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    t = await startTestService({ HTTP_PORT: String(port), TOKEN_ISSUER: issuer });
    const token = (await t.session("CreateSession", { user_id: "discovered" })).tokens?.access_token ?? "";
    const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    // Both libraries refuse a document whose issuer is not the one they were given.
    expect(metadata.issuer).toBe(issuer);
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(metadata.jwks_uri)), { issuer, audience: "platform", currentDate: t.clock.now() });
    expect(payload).toMatchObject({ sub: "discovered", iss: issuer });
  });

  it("refuse a PUBLIC_BASE_URL that is not an http(s) URL without query or fragment, naming the variable", () => {
    for (const value of ["gateway.example.com", "ftp://gateway.example.com", "https://gateway.example.com/?x=1"]) {
      expect(() => loadConfig({ PUBLIC_BASE_URL: value })).toThrow(/PUBLIC_BASE_URL/);
    }
    expect(loadConfig({ PUBLIC_BASE_URL: "https://gateway.example.com/auth/" }).http.publicBaseUrl).toBe("https://gateway.example.com/auth");
  });
});
