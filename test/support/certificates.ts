import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import forge from "node-forge";
import { rememberSecret } from "./secret-scan.js";

// Certificates the tests make for themselves: a CA, servers and clients with
// the SANs a mesh would put in them (SPIFFE URIs, DNS names, IPs).

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateAuthority extends Issued {
  issue(options: LeafOptions): Issued;
}

export interface LeafOptions {
  readonly commonName?: string;
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
  readonly usage: "server" | "client";
}

function newKeyPair(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  // Node generates the key (fast, native); forge only builds and signs the certificate.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  rememberSecret(keyPem.split("\n").slice(1, 3).join(""));
  const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), keyPem };
}

function baseCertificate(publicKey: forge.pki.PublicKey, subject: forge.pki.CertificateField[]): forge.pki.Certificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKey;
  certificate.serialNumber = `01${randomBytes(8).toString("hex")}`;
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  certificate.setSubject(subject);
  return certificate;
}

export function createCertificateAuthority(name: string): CertificateAuthority {
  const keys = newKeyPair();
  const issuer = [{ name: "commonName", value: name }];
  const caCertificate = baseCertificate(keys.publicKey, issuer);
  caCertificate.setIssuer(issuer);
  caCertificate.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCertificate.sign(keys.privateKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(caCertificate),
    keyPem: keys.keyPem,
    issue(options) {
      const leafKeys = newKeyPair();
      // UTF8String, so a test can present names that are not ASCII.
      const subject = options.commonName === undefined ? [] : [{ name: "commonName", value: forge.util.encodeUtf8(options.commonName), valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class }];
      const leaf = baseCertificate(leafKeys.publicKey, subject);
      leaf.setIssuer(issuer);
      const altNames = [
        ...(options.uris ?? []).map((value) => ({ type: 6, value })),
        ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
        ...(options.ips ?? []).map((ip) => ({ type: 7, ip })),
      ];
      leaf.setExtensions([
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: options.usage === "server", clientAuth: options.usage === "client" },
        ...(altNames.length > 0 ? [{ name: "subjectAltName", altNames }] : []),
      ]);
      leaf.sign(keys.privateKey, forge.md.sha256.create());
      return { certPem: forge.pki.certificateToPem(leaf), keyPem: leafKeys.keyPem };
    },
  };
}

/** Writes a server's certificate and key (and optionally a client CA) as the TLS_* settings expect. */
export function writeTlsFiles(dir: string, server: Issued, clientCa?: CertificateAuthority): Record<string, string> {
  const files: Record<string, string> = { TLS_CERT_FILE: path.join(dir, "server.crt"), TLS_KEY_FILE: path.join(dir, "server.key") };
  writeFileSync(files["TLS_CERT_FILE"] as string, server.certPem);
  writeFileSync(files["TLS_KEY_FILE"] as string, server.keyPem, { mode: 0o600 });
  if (clientCa !== undefined) {
    files["TLS_CLIENT_CA_FILE"] = path.join(dir, "client-ca.crt");
    writeFileSync(files["TLS_CLIENT_CA_FILE"], clientCa.certPem);
  }
  return files;
}
