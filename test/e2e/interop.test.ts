import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { has, install, installed, PYTHON, type Toolchain } from "../support/debian-toolchain.js";
import { runCli, type ServiceProcess } from "../support/service-process.js";

// The generated clients (`npm run generate:clients`) and their examples run
// against a server started here. TypeScript needs only npm; Python and Go
// need Debian's toolchains: installed with apt when missing, and those tests
// skipped, saying so, when they cannot be.

const python: Toolchain = {
  name: "Python",
  packages: ["python3-grpcio", "python3-protobuf"],
  ready: () => spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"], { stdio: "ignore" }).status === 0,
};

// grpc-go 1.33 needs github.com/golang/protobuf 1.4 or later: Debian's 1.3 package fails at run time.
const GO_PACKAGES = [
  "golang-go",
  "golang-google-grpc-dev",
  "golang-google-protobuf-dev",
  "golang-google-genproto-dev",
  "golang-github-golang-protobuf-1-5-dev",
];
const go: Toolchain = {
  name: "Go",
  packages: GO_PACKAGES,
  ready: () => has("go") && installed(GO_PACKAGES),
};

async function filesUnder(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(root, full), await readFile(full, "utf8"));
  }
  return files;
}

async function expectSameFiles(fresh: string, committed: string): Promise<void> {
  const generated = await filesUnder(fresh);
  const kept = await filesUnder(committed);
  expect([...generated.keys()].sort()).toEqual([...kept.keys()].sort());
  for (const [file, text] of generated) expect(kept.get(file), file).toBe(text);
}

/** The example's output lines, the same in every language but for the language's spelling of a status code. */
function expectQuickstart(stdout: string, language: "py" | "go" | "ts"): void {
  const lines = stdout.trim().split("\n");
  const yes = language === "py" ? "True" : "true";
  const unauthenticated = language === "go" ? "Unauthenticated" : "UNAUTHENTICATED";
  expect(lines[0]).toMatch(new RegExp(`^login: session [0-9a-f-]{36} for alice-${language}-\\d+$`));
  expect(lines).toContain(`refresh: new pair, refresh token changed: ${yes}`);
  expect(lines).toContain(`refresh retried inside the grace window: same successor: ${yes}`);
  expect(lines.some((line) => new RegExp(`^verify: user alice-${language}-\\d+, session [0-9a-f-]{36}$`).test(line))).toBe(true);
  expect(lines).toContain("list: 1 active session(s)");
  expect(lines).toContain(`error: ${unauthenticated} with reason TOKEN_UNKNOWN`);
  expect(lines.some((line) => /^watch: REVOCATION_EVENT_KIND_SESSION_REVOKED for session [0-9a-f-]{36}, reason logout$/.test(line))).toBe(true);
  expect(lines.at(-1)).toBe(`revoke: verify now fails with ${unauthenticated} / TOKEN_REVOKED`);
}

async function startServer(): Promise<{ server: ServiceProcess; grpcPort: number; dataDir: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "sa-interop-"));
  const server = runCli("serve", { DATA_DIR: dataDir, GRPC_PORT: "0", HTTP_PORT: "0" });
  const { grpcPort } = await server.serving;
  return { server, grpcPort, dataDir };
}

// Generating needs every plugin buf.gen.yaml names; building and running
// each example needs only its own language's packages.
const generators: Toolchain = {
  name: "code generation",
  packages: ["protobuf-compiler", "protobuf-compiler-grpc", "protoc-gen-go", "protoc-gen-go-grpc"],
  ready: () => ["protoc", "grpc_python_plugin", "protoc-gen-go", "protoc-gen-go-grpc"].every(has),
};

describe("interop: the generated clients", () => {
  let missing: string | undefined;

  beforeAll(() => {
    missing = install(generators);
    if (missing !== undefined) console.warn(`NOTICE: the check that the generated clients are current was skipped: ${missing}`);
  }, 300_000);

  it("are generated from the current protos: generating again changes nothing", async (context) => {
    if (missing !== undefined) context.skip();
    const out = await mkdtemp(path.join(tmpdir(), "sa-gen-"));
    try {
      execFileSync("node_modules/.bin/buf", ["generate", "-o", out], { stdio: "pipe" });
      for (const folder of ["clients/ts/src/generated", "clients/python/src", "clients/go"]) await expectSameFiles(path.join(out, folder), folder);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe("interop: the TypeScript client package and examples/ts", () => {
  const scratch: string[] = [];
  let server: ServiceProcess | undefined;

  afterAll(async () => {
    server?.child.kill("SIGTERM");
    await server?.exited;
    await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("installs as a package in another Node project and runs the quickstart there", async () => {
    // As another service would take it: packed (prepack builds dist/), then
    // installed from the tarball into a project of its own, so it resolves
    // only what the package declares.
    const work = await mkdtemp(path.join(tmpdir(), "sa-tsapp-"));
    scratch.push(work);
    const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: "clients/ts", encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })) as { filename: string }[];
    const app = path.join(work, "app");
    await mkdir(app);
    await writeFile(path.join(app, "package.json"), JSON.stringify({ name: "quickstart-app", private: true, type: "module" }));
    await writeFile(path.join(app, ".npmrc"), "ignore-scripts=true\n");
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(work, packed[0]!.filename)], { cwd: app, stdio: "pipe" });
    await copyFile("examples/ts/quickstart.ts", path.join(app, "quickstart.ts"));

    const started = await startServer();
    server = started.server;
    scratch.push(started.dataDir);
    const run = spawnSync(path.resolve("node_modules/.bin/tsx"), ["quickstart.ts"], {
      cwd: app,
      env: { ...process.env, SESSION_AUTHORITY_TARGET: `127.0.0.1:${started.grpcPort}` },
      encoding: "utf8",
      timeout: 60_000,
    });
    console.info(`examples/ts/quickstart.ts against a fresh server:\n${run.stdout}`);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expectQuickstart(run.stdout, "ts");
  }, 180_000);
});

describe("interop: the Python client and examples/python", () => {
  let missing: string | undefined;
  let server: ServiceProcess | undefined;
  let dataDir = "";

  beforeAll(async () => {
    missing = install(python);
    if (missing !== undefined) console.warn(`NOTICE: Python interop test skipped: ${missing}`);
  }, 300_000);
  afterAll(async () => {
    server?.child.kill("SIGTERM");
    await server?.exited;
    if (dataDir !== "") await rm(dataDir, { recursive: true, force: true });
  });

  it("logs in, refreshes (and retries inside the grace window), verifies, lists, reads an ErrorInfo, watches and revokes", async (context) => {
    if (missing !== undefined) context.skip();
    expect(existsSync("examples/python/quickstart.py")).toBe(true);
    const started = await startServer();
    server = started.server;
    dataDir = started.dataDir;
    const run = spawnSync(PYTHON, ["examples/python/quickstart.py"], {
      env: { ...process.env, PYTHONPATH: "clients/python/src", SESSION_AUTHORITY_TARGET: `127.0.0.1:${started.grpcPort}` },
      encoding: "utf8",
      timeout: 60_000,
    });
    console.info(`examples/python/quickstart.py against a fresh server:\n${run.stdout}`);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expectQuickstart(run.stdout, "py");
  });
});

describe("interop: the Go client and examples/go", () => {
  let missing: string | undefined;
  let server: ServiceProcess | undefined;
  const scratch: string[] = [];

  beforeAll(async () => {
    missing = install(go);
    if (missing !== undefined) console.warn(`NOTICE: Go interop test skipped: ${missing}`);
  }, 600_000);
  afterAll(async () => {
    server?.child.kill("SIGTERM");
    await server?.exited;
    await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("logs in, refreshes (and retries inside the grace window), verifies, lists, reads an ErrorInfo, watches and revokes", async (context) => {
    if (missing !== undefined) context.skip();
    // GOPATH mode against Debian's Go sources: nothing is downloaded.
    const gopath = await mkdtemp(path.join(tmpdir(), "sa-gopath-"));
    scratch.push(gopath);
    await mkdir(path.join(gopath, "src/session-authority/clients"), { recursive: true });
    await symlink(path.resolve("clients/go"), path.join(gopath, "src/session-authority/clients/go"));
    const goEnv = { ...process.env, GO111MODULE: "off", GOPATH: `${gopath}:/usr/share/gocode`, GOCACHE: path.join(gopath, "cache"), GOFLAGS: "" };
    const binary = path.join(gopath, "quickstart");
    execFileSync("go", ["build", "-o", binary, "."], { cwd: "examples/go/quickstart", env: goEnv, stdio: "pipe" });
    const started = await startServer();
    server = started.server;
    scratch.push(started.dataDir);
    const run = spawnSync(binary, [], { env: { ...process.env, SESSION_AUTHORITY_TARGET: `127.0.0.1:${started.grpcPort}` }, encoding: "utf8", timeout: 60_000 });
    console.info(`examples/go/quickstart against a fresh server:\n${run.stdout}`);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expectQuickstart(run.stdout, "go");
  }, 300_000);
});
