import { execFileSync, spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionVerifier } from "../../clients/ts/src/index.js";
import { connectClients, failure } from "../support/clients.js";
import { callCheck, connectEdge } from "../support/ext-authz-client.js";
import { has, install, installed, PYTHON, type Toolchain } from "../support/debian-toolchain.js";
import { freePort } from "../support/free-port.js";
import { runCli } from "../support/service-process.js";
import { waitUntil } from "../support/wait.js";

// Our access tokens checked by verifiers nobody here wrote, each fed only the
// issuer URL or the JWKS URL, for every signing algorithm. They check
// signature, issuer, audience and expiry; they cannot know about revocation,
// so a revoked token still passes them until it expires, while the embedded
// verifier and VerifyAccessToken refuse it. That difference is what the
// README's "Verifying access tokens" explains.

const FIXTURES = path.resolve("test/fixtures/stock-verifiers");
const AUDIENCE = "platform";

const pythonVerifiers: Toolchain = {
  name: "Python JWT",
  packages: ["python3-jwt", "python3-cryptography", "python3-jwcrypto"],
  ready: () => spawnSync(PYTHON, ["-c", "import jwt, cryptography, jwcrypto"], { stdio: "ignore" }).status === 0,
};
const GO_PACKAGES = ["golang-go", "golang-github-coreos-go-oidc-dev", "golang-gopkg-square-go-jose.v2-dev"];
const goVerifiers: Toolchain = { name: "Go OIDC/JOSE", packages: GO_PACKAGES, ready: () => has("go") && installed(GO_PACKAGES) };

interface Labelled {
  readonly label: string;
  readonly token: string;
}

/** One run of a verifier over every token: its output lines, keyed "<verifier> <label>". */
function runVerifier(command: string, args: readonly string[], input: object, cwd?: string): Map<string, string> {
  const run = spawnSync(command, args, { input: JSON.stringify(input), cwd, encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${run.status}: ${run.stderr}`);
  const lines = new Map<string, string>();
  for (const line of run.stdout.trim().split("\n")) {
    const at = line.indexOf(": ");
    lines.set(line.slice(0, at), line.slice(at + 2));
  }
  return lines;
}

describe("interop: stock JWT verifiers fed only the issuer or JWKS URL", () => {
  const scratch: string[] = [];
  let pythonMissing: string | undefined;
  let goMissing: string | undefined;
  let goBinary = "";
  let joseProject = "";

  beforeAll(async () => {
    pythonMissing = install(pythonVerifiers);
    if (pythonMissing !== undefined) console.warn(`NOTICE: PyJWT and jwcrypto checks skipped: ${pythonMissing}`);
    goMissing = install(goVerifiers);
    if (goMissing !== undefined) console.warn(`NOTICE: go-oidc and go-jose checks skipped: ${goMissing}`);
    if (goMissing === undefined) {
      // GOPATH mode against Debian's Go sources: nothing is downloaded.
      const gopath = await mkdtemp(path.join(tmpdir(), "sa-stock-go-"));
      scratch.push(gopath);
      const source = path.join(gopath, "src/stock-verifier");
      await mkdir(source, { recursive: true });
      await copyFile(path.join(FIXTURES, "go/main.go"), path.join(source, "main.go"));
      goBinary = path.join(gopath, "stock-verifier");
      const goEnv = { ...process.env, GO111MODULE: "off", GOPATH: `${gopath}:/usr/share/gocode`, GOCACHE: path.join(gopath, "cache"), GOFLAGS: "" };
      execFileSync("go", ["build", "-o", goBinary, "."], { cwd: source, env: goEnv, stdio: "pipe" });
    }
    // jose from the registry, at the version this repository pins, in a project that has nothing else.
    const pinned = (JSON.parse(await readFile("package.json", "utf8")) as { dependencies: Record<string, string> }).dependencies["jose"];
    joseProject = await mkdtemp(path.join(tmpdir(), "sa-stock-jose-"));
    scratch.push(joseProject);
    await writeFile(path.join(joseProject, "package.json"), JSON.stringify({ name: "stock-jose", private: true, type: "module" }));
    await writeFile(path.join(joseProject, ".npmrc"), "ignore-scripts=true\n");
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", `jose@${pinned}`], { cwd: joseProject, stdio: "pipe" });
    await copyFile(path.join(FIXTURES, "jose_verify.mjs"), path.join(joseProject, "verify.mjs"));
  }, 600_000);

  afterAll(async () => {
    await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  for (const algorithm of ["EdDSA", "ES256", "RS256"] as const) {
    it(`accept ${algorithm} tokens, a revoked one too, and refuse a forged one; the embedded verifier, VerifyAccessToken and Envoy Check refuse the revoked one`, async () => {
      // The issuer is the side port's own URL, so go-oidc can discover the JWKS from it.
      const httpPort = await freePort();
      const issuer = `http://127.0.0.1:${httpPort}`;
      const dataDir = await mkdtemp(path.join(tmpdir(), "sa-stock-"));
      scratch.push(dataDir);
      const server = runCli("serve", { DATA_DIR: dataDir, HTTP_PORT: String(httpPort), TOKEN_ISSUER: issuer, SIGNING_ALGORITHM: algorithm, WATCH_HEARTBEAT_INTERVAL: "500ms" });
      const { grpcPort } = await server.serving;
      const clients = connectClients(grpcPort);
      let verifier: SessionVerifier | undefined;
      try {
        const discovered = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
        const jwksUrl = discovered.jwks_uri;
        const login = async (user: string) => {
          const created = await clients.session("CreateSession", { user_id: user });
          return { sessionId: created.session?.session_id ?? "", token: created.tokens?.access_token ?? "" };
        };
        const kept = await login(`stock-kept-${algorithm}`);
        const revoked = await login(`stock-revoked-${algorithm}`);
        const [header, , signature] = kept.token.split(".") as [string, string, string];
        const forged = `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(kept.token), sub: "admin" })).toString("base64url")}.${signature}`;

        verifier = await SessionVerifier.start({ target: `127.0.0.1:${grpcPort}`, jwksUrl, issuer });
        expect(await verifier.verify(revoked.token)).toMatchObject({ valid: true });
        await clients.session("RevokeSession", { session_id: revoked.sessionId, reason: "logout" });
        const embeddedMs = await waitUntil(async () => !(await verifier?.verify(revoked.token))?.valid);

        const tokens: Labelled[] = [
          { label: "kept", token: kept.token },
          { label: "revoked", token: revoked.token },
          { label: "forged", token: forged },
        ];
        const input = { issuer, jwks_url: jwksUrl, audience: AUDIENCE, tokens };
        const outputs = new Map<string, string>();
        const verifiers: string[] = [];
        const add = (lines: Map<string, string>) => lines.forEach((line, key) => outputs.set(key, line));
        add(runVerifier(process.execPath, ["verify.mjs"], input, joseProject));
        verifiers.push("jose");
        if (pythonMissing === undefined) {
          add(runVerifier(PYTHON, [path.join(FIXTURES, "pyjwt_verify.py")], input));
          add(runVerifier(PYTHON, [path.join(FIXTURES, "jwcrypto_verify.py")], input));
          verifiers.push("PyJWT", "jwcrypto");
        }
        if (goMissing === undefined) {
          add(runVerifier(goBinary, [], input));
          verifiers.push("go-oidc", "go-jose");
        }
        const embedded = {
          kept: await verifier.verify(kept.token),
          revoked: await verifier.verify(revoked.token),
          forged: await verifier.verify(forged),
        };
        const served = await failure(clients.token("VerifyAccessToken", { access_token: revoked.token }));
        // And at the mesh edge: Envoy's ext_authz Check, through a client built from Envoy's own protos.
        const edge = connectEdge(grpcPort);
        const edgeAnswer = async (token: string) => {
          const response = await callCheck(edge, { headers: { authorization: `Bearer ${token}` } });
          // Envoy answers the client itself only on a denial: its HTTP status, as the enum's name.
          return { grpc: response.status?.code ?? 0, denied: String(response.denied_response?.status?.code ?? "no, allowed") };
        };
        const atEdge = { kept: await edgeAnswer(kept.token), revoked: await edgeAnswer(revoked.token) };
        edge.close();
        const summary = (verification: Awaited<ReturnType<SessionVerifier["verify"]>>) =>
          verification.valid ? `valid sub=${String(verification.claims.sub)} (${verification.source})` : `refused ${verification.reason} (${verification.source})`;
        console.info(
          [
            `${algorithm}: issuer ${issuer}, JWKS ${jwksUrl}; session ${revoked.sessionId} revoked, embedded verifier refused it after ${embeddedMs.toFixed(1)} ms`,
            ...[...outputs].map(([key, line]) => `  ${key}: ${line}`),
            ...Object.entries(embedded).map(([label, verification]) => `  embedded verifier ${label}: ${summary(verification)}`),
            `  VerifyAccessToken revoked: ${served.codeName} / ${served.errorInfo?.reason}`,
            `  Envoy Check kept: status ${atEdge.kept.grpc}, denied ${atEdge.kept.denied}; revoked: status ${atEdge.revoked.grpc}, denied ${atEdge.revoked.denied}`,
          ].join("\n"),
        );

        expect(verifiers.length).toBeGreaterThan(0);
        for (const name of verifiers) {
          // They know the signature, issuer, audience and expiry, and our RFC 9068 client_id claim comes through…
          expect(outputs.get(`${name} kept`)).toBe(`valid sub=stock-kept-${algorithm} sid=${kept.sessionId} client_id=anonymous`);
          expect(outputs.get(`${name} forged`)).toMatch(/^refused /);
          // …but nothing of revocation: the revoked token passes until it expires.
          expect(outputs.get(`${name} revoked`)).toBe(`valid sub=stock-revoked-${algorithm} sid=${revoked.sessionId} client_id=anonymous`);
        }
        expect(embedded).toEqual({
          kept: expect.objectContaining({ valid: true, source: "local" }),
          revoked: { valid: false, reason: "TOKEN_REVOKED", source: "local" },
          forged: { valid: false, reason: "TOKEN_SIGNATURE_INVALID", source: "local" },
        });
        expect([served.codeName, served.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "TOKEN_REVOKED"]);
        expect(atEdge).toEqual({ kept: { grpc: 0, denied: "no, allowed" }, revoked: { grpc: 16, denied: "Unauthorized" } });
      } finally {
        verifier?.close();
        clients.close();
        server.child.kill("SIGTERM");
        await server.exited;
      }
    }, 300_000);
  }
});
