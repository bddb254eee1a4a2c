import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import * as grpc from "@grpc/grpc-js";

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  /** Set: every client must present a certificate this CA bundle verifies (mutual TLS). */
  readonly clientCaFile: string | undefined;
  readonly reloadIntervalMs: number;
}

interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

type Listener<Update> = (update: Update | null) => void;

/**
 * The server's certificate, key and client CA, re-read on an interval and
 * handed to grpc-js when their contents change. A new set is checked by
 * building a TLS context from it first: a half-written renewal (a new
 * certificate beside the old key) keeps the last good set serving instead
 * of dropping every new connection, which is what grpc-js would do with it.
 */
export class WatchedTlsFiles implements grpc.experimental.CertificateProvider {
  private fingerprint: string;
  private rejected: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly caListeners = new Set<Listener<grpc.experimental.CaCertificateUpdate>>();
  private readonly identityListeners = new Set<Listener<grpc.experimental.IdentityCertificateUpdate>>();

  private constructor(
    private readonly settings: TlsSettings,
    private readonly onReloadProblem: (problem: string) => void,
    private readonly onReloaded: () => void,
    private current: TlsMaterial,
  ) {
    this.fingerprint = fingerprintOf(current);
  }

  /** Reads and checks the files now: a bad set at start is a configuration error, not a warning. */
  static async open(settings: TlsSettings, onReloadProblem: (problem: string) => void, onReloaded: () => void): Promise<WatchedTlsFiles> {
    const material = await readMaterial(settings);
    const problem = problemWith(material);
    if (problem !== undefined) throw new Error(problem);
    return new WatchedTlsFiles(settings, onReloadProblem, onReloaded, material);
  }

  credentials(): grpc.ServerCredentials {
    const mutual = this.settings.clientCaFile !== undefined;
    // grpc-js takes the identity provider first and the CA provider second,
    // whatever its type declaration names them; this object is both.
    return grpc.experimental.createCertificateProviderServerCredentials(this, mutual ? this : null, mutual);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.reload(), this.settings.reloadIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the files; exposed so a reload can be forced (e.g. on SIGHUP). */
  async reload(): Promise<void> {
    let material: TlsMaterial;
    try {
      material = await readMaterial(this.settings);
    } catch (error) {
      this.onReloadProblem(`cannot read the TLS files (${(error as NodeJS.ErrnoException).code ?? "error"}); keeping the last good set`);
      return;
    }
    const fingerprint = fingerprintOf(material);
    // Unchanged, or the same broken set as last time (reported once, not every interval).
    if (fingerprint === this.fingerprint || fingerprint === this.rejected) return;
    const problem = problemWith(material);
    if (problem !== undefined) {
      this.rejected = fingerprint;
      this.onReloadProblem(`${problem}; keeping the last good set`);
      return;
    }
    this.current = material;
    this.fingerprint = fingerprint;
    this.emit();
    this.onReloaded();
  }

  addCaCertificateListener(listener: Listener<grpc.experimental.CaCertificateUpdate>): void {
    this.caListeners.add(listener);
    // Later, not now: grpc-js subscribes before it starts watching, and would miss a synchronous first value.
    queueMicrotask(() => {
      if (this.current.ca !== undefined && this.caListeners.has(listener)) listener({ caCertificate: this.current.ca });
    });
  }

  removeCaCertificateListener(listener: Listener<grpc.experimental.CaCertificateUpdate>): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: Listener<grpc.experimental.IdentityCertificateUpdate>): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.identityListeners.has(listener)) listener({ certificate: this.current.cert, privateKey: this.current.key });
    });
  }

  removeIdentityCertificateListener(listener: Listener<grpc.experimental.IdentityCertificateUpdate>): void {
    this.identityListeners.delete(listener);
  }

  private emit(): void {
    const { cert, key, ca } = this.current;
    for (const listener of this.identityListeners) listener({ certificate: cert, privateKey: key });
    if (ca !== undefined) for (const listener of this.caListeners) listener({ caCertificate: ca });
  }
}

async function readMaterial(settings: TlsSettings): Promise<TlsMaterial> {
  return {
    cert: await readFile(settings.certFile),
    key: await readFile(settings.keyFile),
    ca: settings.clientCaFile === undefined ? undefined : await readFile(settings.clientCaFile),
  };
}

function problemWith(material: TlsMaterial): string | undefined {
  try {
    createSecureContext({ cert: material.cert, key: material.key, ca: material.ca });
    return undefined;
  } catch (error) {
    // The library's message names the mismatch or parse error, never key bytes.
    return `the TLS certificate, key or client CA is not usable (${(error as Error).message})`;
  }
}

function fingerprintOf(material: TlsMaterial): string {
  const hash = createHash("sha256");
  for (const part of [material.cert, material.key, material.ca ?? Buffer.alloc(0)]) hash.update(part).update("\0");
  return hash.digest("hex");
}
