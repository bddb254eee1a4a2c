import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { HEALTH_NAMES } from "../../src/availability.js";
import { loadConfig } from "../../src/config.js";
import { services } from "../../src/grpc/proto.js";

// deploy/kubernetes checked without a cluster: every document against the
// Kubernetes 1.27 API schemas vendored in the `kubernetes-models` npm package
// (its validators), unknown fields rejected by type-checking each document
// against the same package's types (the validators allow extra fields, as
// the API server does, but a misspelt field is silently ignored there),
// then what the deployment must guarantee.

const DIR = "deploy/kubernetes";

interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly body: Record<string, unknown>;
}

/** kubernetes-models' module for an apiVersion and kind: "apps/v1" + "Deployment" → "kubernetes-models/apps/v1/Deployment". */
const modelModule = (manifest: Manifest) => `kubernetes-models/${manifest.apiVersion}/${manifest.kind}`;

async function readManifests(): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const file of (await readdir(DIR)).filter((name) => name.endsWith(".yaml")).sort()) {
    for (const document of parseAllDocuments(await readFile(path.join(DIR, file), "utf8"))) {
      expect(document.errors.map((error) => `${file}: ${error.message}`)).toEqual([]);
      const body = document.toJS() as Record<string, unknown>;
      manifests.push({ file, apiVersion: String(body["apiVersion"]), kind: String(body["kind"]), body });
    }
  }
  return manifests;
}

/** TypeScript's excess-property errors for each manifest typed as its kind's interface. */
function unknownFieldErrors(manifests: readonly Manifest[]): string[] {
  const virtual = path.resolve(DIR, "manifests.check.ts");
  const source = manifests
    .map((manifest, i) => `import type { I${manifest.kind} as T${i} } from "${modelModule(manifest)}";\nexport const m${i}: T${i} = ${JSON.stringify(manifest.body)};`)
    .join("\n");
  const options: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language) => (path.resolve(file) === virtual ? ts.createSourceFile(file, source, language) : getSourceFile(file, language));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => path.resolve(file) === virtual || fileExists(file);
  const program = ts.createProgram([virtual], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const line = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line : -1;
    const manifest = manifests[Math.floor(line / 2)];
    return `${manifest?.file ?? "?"} ${manifest?.kind ?? ""}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ")}`;
  });
}

type Json = Record<string, unknown>;
const at = (value: unknown, ...keys: (string | number)[]): Json => keys.reduce<unknown>((node, key) => (node as Json | undefined)?.[key], value) as Json;

describe("deploy/kubernetes", () => {
  let manifests: Manifest[];
  const one = (kind: string, name?: string) => {
    const found = manifests.filter((manifest) => manifest.kind === kind && (name === undefined || at(manifest.body, "metadata")["name"] === name));
    expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
    return found[0]!.body;
  };

  beforeAll(async () => {
    manifests = await readManifests();
  });

  it("is valid against the vendored Kubernetes schemas", async () => {
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual(
      ["ConfigMap", "Deployment", "Job", "NetworkPolicy", "PodDisruptionBudget", "Service", "Service", "ServiceAccount"].sort(),
    );
    for (const manifest of manifests) {
      const module = (await import(modelModule(manifest))) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = module[manifest.kind];
      expect(Model, modelModule(manifest)).toBeDefined();
      expect(() => new Model!(manifest.body).validate(), `${manifest.file} ${manifest.kind}`).not.toThrow();
    }
  });

  it("has no field the schemas do not know (a misspelt field would be ignored by the cluster)", () => {
    expect(unknownFieldErrors(manifests)).toEqual([]);
    // The check itself catches one.
    const deployment = manifests.find((manifest) => manifest.kind === "Deployment")!;
    const misspelt = structuredClone(deployment.body);
    at(misspelt, "spec", "template", "spec", "containers", 0)["readinessprobe"] = {};
    expect(unknownFieldErrors([{ ...deployment, body: misspelt }]).join("\n")).toContain("readinessprobe");
  });

  it("runs three non-root replicas with a read-only root filesystem, requests, all interfaces bound and callers identified", () => {
    const deployment = one("Deployment");
    expect(at(deployment, "spec").replicas).toBe(3);
    const pod = at(deployment, "spec", "template", "spec");
    expect(at(pod, "securityContext").runAsNonRoot).toBe(true);
    const container = at(pod, "containers", 0);
    expect(at(container, "securityContext").readOnlyRootFilesystem).toBe(true);
    expect(at(container, "securityContext").allowPrivilegeEscalation).toBe(false);
    expect(at(container, "resources", "requests")).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    const env = new Map((container["env"] as { name: string; value?: string }[]).map((variable) => [variable.name, variable]));
    expect(env.get("GRPC_HOST")?.value).toBe("0.0.0.0");
    expect(env.get("HTTP_HOST")?.value).toBe("0.0.0.0");
    // Bound beyond loopback the server refuses to start unless callers can be named.
    expect(env.has("API_KEYS") || env.has("TRUSTED_PROXIES") || env.has("TLS_CLIENT_CA_FILE")).toBe(true);
    expect(env.has("DATABASE_URL") && env.has("KEK_FILE")).toBe(true);
    expect((container["ports"] as { containerPort: number }[]).map((port) => port.containerPort).sort()).toEqual([50051, 8080].sort());
  });

  it("probes gRPC health as the health design says: liveness on the server, readiness on verification", () => {
    const container = at(one("Deployment"), "spec", "template", "spec", "containers", 0);
    for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
      expect(at(container, probe, "grpc").port, probe).toBe(50051);
      expect(HEALTH_NAMES as readonly string[], probe).toContain(at(container, probe, "grpc").service ?? "");
    }
    expect(at(container, "livenessProbe", "grpc").service ?? "").toBe("");
    expect(at(container, "readinessProbe", "grpc").service).toBe("sessionauthority.v1.TokenService/VerifyAccessToken");
  });

  it("selects the Deployment's pods from the Services, the budget and the network policy", () => {
    const labels = at(one("Deployment"), "spec", "template", "metadata", "labels");
    const selects = (selector: Json) => Object.entries(selector).every(([key, value]) => labels[key] === value);
    const service = one("Service", "session-authority");
    expect(selects(at(service, "spec", "selector"))).toBe(true);
    expect(selects(at(one("Service", "session-authority-headless"), "spec", "selector"))).toBe(true);
    expect(selects(at(one("PodDisruptionBudget"), "spec", "selector", "matchLabels"))).toBe(true);
    expect(selects(at(one("NetworkPolicy"), "spec", "podSelector", "matchLabels"))).toBe(true);
    const grpcPort = (at(service, "spec", "ports") as unknown as { name: string; appProtocol?: string; port: number }[]).find((port) => port.name === "grpc");
    expect(grpcPort).toMatchObject({ port: 50051, appProtocol: "grpc" });
    expect(at(one("PodDisruptionBudget"), "spec").maxUnavailable).toBe(1);
  });

  it("migrates with a Job running the image's migrate command", () => {
    const job = one("Job");
    const deployment = one("Deployment");
    const container = at(job, "spec", "template", "spec", "containers", 0);
    expect(container["args"]).toEqual(["migrate"]);
    expect(container["image"]).toBe(at(deployment, "spec", "template", "spec", "containers", 0)["image"]);
    expect(at(container, "securityContext").readOnlyRootFilesystem).toBe(true);
  });

  it("ships a policy the server accepts, naming only methods that exist", async () => {
    const policy = String(at(one("ConfigMap", "session-authority-policy"), "data")["policy.json"]);
    const dir = await mkdtemp(path.join(tmpdir(), "sa-k8s-policy-"));
    try {
      await writeFile(path.join(dir, "policy.json"), policy);
      const config = loadConfig({ POLICY_FILE: path.join(dir, "policy.json") });
      const known = new Set(
        Object.entries(services.sessionauthority.v1).flatMap(([service, client]) =>
          Object.keys((client as unknown as { service: Record<string, unknown> }).service ?? {}).map((method) => `sessionauthority.v1.${service}/${method}`),
        ),
      );
      for (const [caller, rules] of config.callers.policy ?? new Map()) {
        for (const rule of rules) if (!rule.endsWith("/*") && rule !== "*") expect(known, `${caller}: ${rule}`).toContain(rule);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
