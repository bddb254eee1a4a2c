import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { inject } from "vitest";
import { SessionVerifier } from "../../clients/ts/src/index.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createCallLog, createLogger } from "../../src/logger.js";
import { startService, type RunningService } from "../../src/main.js";
import { apiKeysSetting, connectClients, type Clients } from "./clients.js";
import { createFreshDatabase, type FreshDatabase } from "./fresh-database.js";
import { writeKekFile } from "./kek.js";
import { writePolicyFile } from "./policy-file.js";
import { recordLogLine, rememberSecret } from "./secret-scan.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

/** The callers of a model run: two applications, and the verifier's own key. */
export const MODEL_CALLERS = { "app-a": "model-app-a-api-key-0001", "app-b": "model-app-b-api-key-0002", verifier: "model-verifier-api-key-0003" } as const;
export type ModelCaller = "app-a" | "app-b";

export interface ModelSystem {
  /** Clients of each replica, replaced when it restarts. */
  clients(replica: number): Clients;
  readonly replicaCount: number;
  /** Embedded verifiers behind a cuttable proxy: every organisation, and org-a only. */
  readonly verifiers: { readonly all: SessionVerifier; readonly orgA: SessionVerifier } | undefined;
  readonly maxStalenessMs: number;
  restart(replica: number): Promise<void>;
  cutStream(): void;
  restoreStream(): void;
  stop(): Promise<void>;
}

function sink(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.length > 0) recordLogLine(line);
      done();
    },
  });
}

async function serve(config: Config): Promise<RunningService> {
  const out = sink();
  const logger = createLogger(config.logLevel, out);
  return startService(config, logger, { callLog: createCallLog(logger, out) });
}

/**
 * Replicas of the real service in this process, on one database (a PGlite
 * folder allows only one), each restartable on the same data, with API-key
 * callers and, optionally, embedded verifiers reached through a proxy the
 * test can cut.
 */
export async function startModelSystem(options: {
  readonly backend: "pglite" | "postgres";
  readonly replicas: number;
  readonly env: Record<string, string>;
  readonly withVerifiers: boolean;
}): Promise<ModelSystem> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "sa-model-"));
  const database: FreshDatabase | undefined = options.backend === "postgres" ? await createFreshDatabase(inject("postgresAdminUrl")) : undefined;
  for (const key of Object.values(MODEL_CALLERS)) rememberSecret(key);
  const policy = await writePolicyFile({
    "app-a": ["*", "sessionauthority.v1.TokenService/RefreshTokens:switch_org", "sessionauthority.v1.TokenService/RevokeAllTokens", "sessionauthority.v1.SessionService/DeleteUserData"],
    "app-b": ["*", "sessionauthority.v1.TokenService/RevokeAllTokens", "sessionauthority.v1.SessionService/DeleteUserData"],
    verifier: ["sessionauthority.v1.TokenService/*"],
  });
  const env = {
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    LOG_LEVEL: "warn",
    API_KEYS: apiKeysSetting(MODEL_CALLERS),
    POLICY_FILE: policy,
    ...(database === undefined ? { DATA_DIR: dataDir } : { DATA_DIR: dataDir, DATABASE_URL: database.url, KEK_FILE: writeKekFile(dataDir) }),
    ...options.env,
  };
  if (database === undefined && options.replicas !== 1) throw new Error("PGlite serves one process: one replica");
  // PGlite's folder is its database; PostgreSQL replicas each get a folder of their own, as pods do.
  const shared = Array.from({ length: options.replicas }, (_, i) =>
    loadConfig(database === undefined ? env : { ...env, DATA_DIR: path.join(dataDir, `replica-${i}`) }),
  );
  const services: RunningService[] = [];
  for (const config of shared) services.push(await serve(config));
  const clients = services.map((service) => connectClients(service.grpcPort));
  const proxy: TcpProxy | undefined = options.withVerifiers ? await startTcpProxy(services[0]?.grpcPort ?? 0) : undefined;
  const maxStalenessMs = 500;
  const startVerifier = (orgIds: string[]) =>
    SessionVerifier.start({
      target: `127.0.0.1:${proxy?.port ?? 0}`,
      jwksUrl: `http://127.0.0.1:${services[0]?.httpPort ?? 0}/.well-known/jwks.json`,
      apiKey: MODEL_CALLERS.verifier,
      orgIds,
      maxStalenessMs,
      serverTimeoutMs: 1_000,
    });
  const verifiers = proxy === undefined ? undefined : { all: await startVerifier([]), orgA: await startVerifier(["org-a"]) };
  return {
    replicaCount: services.length,
    verifiers,
    maxStalenessMs,
    clients(replica) {
      const found = clients[replica % clients.length];
      if (found === undefined) throw new Error("no replica");
      return found;
    },
    async restart(replica) {
      const i = replica % services.length;
      clients[i]?.close();
      await services[i]?.shutdown();
      const config = shared[i];
      if (config === undefined) throw new Error("no replica");
      // The JWKS URL the verifiers were given names replica 0's side port: keep it.
      const restarted = await serve(i === 0 ? { ...config, http: { ...config.http, port: services[0]?.httpPort ?? 0 } } : config);
      services[i] = restarted;
      clients[i] = connectClients(restarted.grpcPort);
      if (i === 0) proxy?.retarget(restarted.grpcPort);
    },
    cutStream() {
      proxy?.cut();
    },
    restoreStream() {
      proxy?.restore();
    },
    async stop() {
      verifiers?.all.close();
      verifiers?.orgA.close();
      await proxy?.close();
      for (const client of clients) client.close();
      for (const service of services) await service.shutdown();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
