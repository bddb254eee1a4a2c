import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, writeTlsFiles, type CertificateAuthority, type Issued } from "../support/certificates.js";
import { apiKeyMetadata, apiKeysSetting, connectClients, failure, type Clients } from "../support/clients.js";
import { writePolicyFile } from "../support/policy-file.js";
import { startTestService, type TestService } from "../support/test-service.js";
import { waitUntil } from "../support/wait.js";

const billing = "spiffe://cluster.local/ns/payments/sa/billing";
const sidecar = "spiffe://cluster.local/ns/payments/sa/envoy-sidecar";
const reader = "spiffe://cluster.local/ns/support/sa/reader";
const create = "sessionauthority.v1.SessionService/CreateSession";
const get = "sessionauthority.v1.SessionService/GetSession";

// Each client opens its own connection, so a test sees the certificate the server holds now.
const freshConnection = { "grpc.use_local_subchannel_pool": 1 };

function tlsClients(port: number, trusted: CertificateAuthority, client?: Issued): Clients {
  const credentials = grpc.credentials.createSsl(
    Buffer.from(trusted.certPem),
    client === undefined ? null : Buffer.from(client.keyPem),
    client === undefined ? null : Buffer.from(client.certPem),
  );
  return connectClients(port, credentials, freshConnection);
}

/** Whether a call got through TLS to the server, whatever the server then answered. */
async function connects(clients: Clients): Promise<boolean> {
  try {
    await clients.token("GetJwks", {});
    return true;
  } catch (error) {
    return (error as grpc.ServiceError).code !== grpc.status.UNAVAILABLE;
  } finally {
    clients.close();
  }
}

describe("mutual TLS: callers named by their certificates, reloaded from files", () => {
  const serverCa = createCertificateAuthority("test server CA");
  const clientCa = createCertificateAuthority("test workload CA");
  const strangerCa = createCertificateAuthority("someone else's CA");
  const serverCert = (ca: CertificateAuthority) => ca.issue({ usage: "server", commonName: "session-authority", dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  const billingCert = clientCa.issue({ usage: "client", commonName: "ignored-when-a-spiffe-uri-is-present", uris: [billing] });
  const readerCert = clientCa.issue({ usage: "client", uris: [reader] });
  const cnOnlyCert = clientCa.issue({ usage: "client", commonName: "legacy-batch-job" });
  const sidecarCert = clientCa.issue({ usage: "client", uris: [sidecar] });
  let dir: string;
  let files: Record<string, string>;
  let t: TestService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "sa-tls-"));
    files = writeTlsFiles(dir, serverCert(serverCa), clientCa);
    const policy = await writePolicyFile({
      [billing]: [create, get],
      [reader]: [get],
      "legacy-batch-job": [create],
      "spiffe://cluster.local/ns/payments/sa/ledger": [create],
    });
    t = await startTestService({ ...files, POLICY_FILE: policy, TLS_RELOAD_INTERVAL: "100ms", TRUSTED_PROXIES: sidecar });
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("takes the caller from the SPIFFE URI SAN, else the subject CN, and applies the policy to it", async () => {
    const asBilling = tlsClients(t.service.grpcPort, serverCa, billingCert);
    const created = await asBilling.session("CreateSession", { user_id: "u-mtls" });
    expect(created.session?.created_by).toBe(billing);

    const asReader = tlsClients(t.service.grpcPort, serverCa, readerCert);
    const denied = await failure(asReader.session("CreateSession", { user_id: "u-mtls" }));
    expect([denied.codeName, denied.errorInfo?.reason]).toEqual(["PERMISSION_DENIED", "CALLER_NOT_ALLOWED"]);
    expect(denied.details).toContain(reader);

    // The refresh token stays bound to the workload that created the session.
    const foreign = await failure(asReader.session("GetSession", { refresh_token: created.tokens?.refresh_token ?? "" }));
    expect(foreign.errorInfo?.reason).toBe("TOKEN_UNKNOWN");
    expect((await asBilling.session("GetSession", { refresh_token: created.tokens?.refresh_token ?? "" })).session?.session_id).toBe(created.session?.session_id);

    const asBatch = tlsClients(t.service.grpcPort, serverCa, cnOnlyCert);
    expect((await asBatch.session("CreateSession", { user_id: "u-mtls" })).session?.created_by).toBe("legacy-batch-job");
    for (const clients of [asBilling, asReader, asBatch]) clients.close();
  });

  it("names no caller from a CN that poses as a SPIFFE ID or is not ASCII, and keeps serving", async () => {
    const posing = tlsClients(t.service.grpcPort, serverCa, clientCa.issue({ usage: "client", commonName: sidecar }));
    const header = new grpc.Metadata();
    header.set("x-forwarded-client-cert", `URI=${billing}`);
    const refused = await failure(posing.session("CreateSession", { user_id: "u-spoof" }, header));
    expect([refused.codeName, refused.errorInfo?.reason]).toEqual(["UNAUTHENTICATED", "CALLER_UNAUTHENTICATED"]);
    const unicode = tlsClients(t.service.grpcPort, serverCa, clientCa.issue({ usage: "client", commonName: "café-batch" }));
    expect((await failure(unicode.session("CreateSession", { user_id: "u-spoof" }))).errorInfo?.reason).toBe("CALLER_UNAUTHENTICATED");
    const asBilling = tlsClients(t.service.grpcPort, serverCa, billingCert);
    expect((await asBilling.session("CreateSession", { user_id: "u-still-up" })).session?.created_by).toBe(billing);
    for (const clients of [posing, unicode, asBilling]) clients.close();
  });

  it("refuses connections without a client certificate, with one from another CA, and in plaintext", async () => {
    expect(await connects(tlsClients(t.service.grpcPort, serverCa))).toBe(false);
    expect(await connects(tlsClients(t.service.grpcPort, serverCa, strangerCa.issue({ usage: "client", uris: [billing] })))).toBe(false);
    expect(await connects(connectClients(t.service.grpcPort, grpc.credentials.createInsecure(), freshConnection))).toBe(false);
    // An API key does not stand in for the missing certificate.
    const noCert = tlsClients(t.service.grpcPort, serverCa);
    const refused = await failure(noCert.session("CreateSession", { user_id: "u" }, apiKeyMetadata("any-key-at-all-12345")));
    expect(refused.codeName).toBe("UNAVAILABLE");
    noCert.close();
  });

  it("believes x-forwarded-client-cert only from the sidecar named in TRUSTED_PROXIES", async () => {
    const header = new grpc.Metadata();
    header.set("x-forwarded-client-cert", `By=${sidecar};Hash=9ab1;Subject="CN=ledger";URI=spiffe://cluster.local/ns/payments/sa/ledger`);
    const viaSidecar = tlsClients(t.service.grpcPort, serverCa, sidecarCert);
    expect((await viaSidecar.session("CreateSession", { user_id: "u-mesh" }, header)).session?.created_by).toBe("spiffe://cluster.local/ns/payments/sa/ledger");
    // The sidecar itself is named nowhere in the policy: without the header it is just an unknown workload.
    expect((await failure(viaSidecar.session("CreateSession", { user_id: "u-mesh" }))).errorInfo?.reason).toBe("CALLER_NOT_ALLOWED");

    // Any other workload sending the header is itself, whatever the header says.
    const spoofed = new grpc.Metadata();
    spoofed.set("x-forwarded-client-cert", `URI=${billing}`);
    const asReader = tlsClients(t.service.grpcPort, serverCa, readerCert);
    const denied = await failure(asReader.session("CreateSession", { user_id: "u-mesh" }, spoofed));
    expect(denied.details).toContain(reader);
    viaSidecar.close();
    asReader.close();
  });

  it("serves a renewed certificate when the files change, and keeps the last good one when they are broken", async () => {
    const renewedCa = createCertificateAuthority("renewed server CA");
    writeTlsFiles(dir, serverCert(renewedCa), clientCa);
    await waitUntil(() => connects(tlsClients(t.service.grpcPort, renewedCa, billingCert)), 10_000);
    expect(await connects(tlsClients(t.service.grpcPort, serverCa, billingCert))).toBe(false);
    expect(t.logLines.some((line) => line.includes("TLS files reloaded"))).toBe(true);

    // A renewal caught half-written: a new certificate beside the old key.
    const problemsBefore = t.logLines.filter((line) => line.includes("keeping the last good set")).length;
    await writeFile(files["TLS_CERT_FILE"] as string, serverCert(serverCa).certPem);
    await waitUntil(async () => t.logLines.filter((line) => line.includes("keeping the last good set")).length > problemsBefore, 10_000);
    expect(await connects(tlsClients(t.service.grpcPort, renewedCa, billingCert))).toBe(true);
  });
});

describe("TLS without client certificates, and a sidecar trusted by address", () => {
  const serverCa = createCertificateAuthority("test server CA");
  const key = "frontend-api-key-0d7e31";
  let dir: string;
  let t: TestService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "sa-tls-"));
    const files = writeTlsFiles(dir, serverCa.issue({ usage: "server", ips: ["127.0.0.1"] }));
    const policy = await writePolicyFile({ frontend: [create], "spiffe://cluster.local/ns/web/sa/frontend": [create] });
    t = await startTestService({ ...files, POLICY_FILE: policy, API_KEYS: apiKeysSetting({ frontend: key }), TRUSTED_PROXIES: "127.0.0.0/8" });
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("encrypts the connection and identifies callers by API key or by the trusted sidecar's header", async () => {
    const clients = tlsClients(t.service.grpcPort, serverCa);
    expect((await clients.session("CreateSession", { user_id: "u-tls" }, apiKeyMetadata(key))).session?.created_by).toBe("frontend");
    const forwarded = new grpc.Metadata();
    forwarded.set("x-forwarded-client-cert", "Hash=77aa;URI=spiffe://cluster.local/ns/web/sa/frontend");
    expect((await clients.session("CreateSession", { user_id: "u-tls" }, forwarded)).session?.created_by).toBe("spiffe://cluster.local/ns/web/sa/frontend");
    expect((await failure(clients.session("CreateSession", { user_id: "u-tls" }))).errorInfo?.reason).toBe("CALLER_UNAUTHENTICATED");
    clients.close();
    expect(await connects(connectClients(t.service.grpcPort, grpc.credentials.createInsecure(), freshConnection))).toBe(false);
  });
});
