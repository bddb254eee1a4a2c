import { randomBytes } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";
import { VerifiedTokens } from "../clients/ts/src/verified-tokens.js";
import { ConfigError, type Config } from "./config.js";
import { systemClock, type Clock } from "./domain/context.js";
import type { Dependencies } from "./domain/dependencies.js";
import { enforceRetention } from "./domain/enforce-retention.js";
import { openKeyEncryption } from "./crypto/kek-files.js";
import { loadServiceSecret } from "./domain/service-secrets.js";
import { DenialAudit } from "./domain/denial-audit.js";
import { FeedSignal } from "./domain/revocation-feed.js";
import { revocationWindowMs } from "./domain/revocation-snapshot.js";
import { KeyRing, prepareSigningKeys, type KeySettings } from "./domain/signing-keys.js";
import { VerificationCache } from "./domain/verification-cache.js";
import { TokenIssuer } from "./domain/token-issuer.js";
import { healthStatuses, type Availability } from "./availability.js";
import { bindGrpcServer, buildGrpcServer } from "./grpc/server.js";
import { DatabaseWatch } from "./store/database-watch.js";
import { WatchedTlsFiles } from "./grpc/tls-files.js";
import { startSideServer } from "./http/side-server.js";
import type { Logger } from "./logger.js";
import { openDatabase, type Database } from "./store/database.js";
import { migrate } from "./store/migrate.js";
import { Store } from "./store/store.js";
import { ServiceMetrics } from "./service-metrics.js";
import { startTracing, type Tracing } from "./tracing.js";
import type { Tracer } from "@opentelemetry/api";

// The composition root: configuration → store → domain → servers.

const GRACE_KEY_NAME = "refresh_grace_hmac";
// Refused calls reach the audit log within this; identical ones in between are counted in one entry.
const DENIAL_FLUSH_INTERVAL_MS = 1_000;

export interface RunningService {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly database: Database;
  /** Runs the retention job now (it also runs on its interval). */
  enforceRetention(): Promise<{ erased: number; deleted: number; events: number; audit: number }>;
  /** Health NOT_SERVING, drain in-flight calls within the deadline, release everything. */
  shutdown(): Promise<void>;
}

export interface ServiceOptions {
  readonly clock?: Clock;
  /** Where the one line per call goes (createCallLog); the logger itself when not given. */
  readonly callLog?: Logger;
}

export function keySettingsOf(config: Config): KeySettings {
  return {
    signingAlgorithm: config.tokens.signingAlgorithm,
    jwksMaxAgeMs: config.signingKeys.jwksMaxAgeMs,
    refreshIntervalMs: config.signingKeys.refreshIntervalMs,
    accessTtlMaxMs: config.tokens.accessTtlMaxMs,
    accessTokenLeewayMs: config.sessions.accessTokenLeewayMs,
  };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Anonymous callers only when nothing could identify one: no API keys, no client certificates, no trusted sidecar. */
function anonymousAllowed(config: Config): boolean {
  const { keys, trustedProxies } = config.callers;
  return keys.length === 0 && config.grpc.tls?.clientCaFile === undefined && trustedProxies.identities.size === 0 && trustedProxies.addresses.rules.length === 0;
}

async function openTlsFiles(config: Config, logger: Logger): Promise<WatchedTlsFiles | undefined> {
  const settings = config.grpc.tls;
  if (settings === undefined) return undefined;
  try {
    return await WatchedTlsFiles.open(
      settings,
      (problem) => logger.warn({ cert: settings.certFile, key: settings.keyFile, ca: settings.clientCaFile }, problem),
      () => logger.info({ cert: settings.certFile, ca: settings.clientCaFile }, "TLS files reloaded"),
    );
  } catch (error) {
    throw new ConfigError(`invalid configuration: TLS_CERT_FILE / TLS_KEY_FILE / TLS_CLIENT_CA_FILE: ${(error as Error).message}`);
  }
}

export async function startService(config: Config, logger: Logger, options: ServiceOptions = {}): Promise<RunningService> {
  const allowAnonymous = anonymousAllowed(config);
  if (allowAnonymous && !isLoopback(config.grpc.host)) {
    throw new ConfigError(
      `invalid configuration: API_KEYS: required when GRPC_HOST (${config.grpc.host}) is not a loopback address (or identify callers by TLS_CLIENT_CA_FILE or TRUSTED_PROXIES)`,
    );
  }
  if (allowAnonymous) {
    logger.warn("NO API KEYS CONFIGURED: any local process may call every RPC. Set API_KEYS before exposing this service.");
  }
  const tlsFiles = await openTlsFiles(config, logger);
  const encryption = openKeyEncryption(config, logger);
  const database = await openDatabase(config.database);
  try {
    const applied = await migrate(database);
    logger.info({ backend: database.kind, applied }, "database ready");
    const store = new Store(database);
    let tracing: Tracing | undefined;
    if (config.tracing !== undefined) {
      tracing = startTracing(config.tracing);
      store.traceWith(tracing.tracer);
      // Origin and path only: a URL may carry credentials.
      const url = new URL(config.tracing.url);
      logger.info({ url: `${url.origin}${url.pathname}` }, "sending traces over OTLP");
    }
    const clock = options.clock ?? systemClock;
    await prepareSigningKeys(store, encryption, clock, config.tokens.signingAlgorithm);
    const keyRing = new KeyRing(store, encryption, clock);
    await keyRing.refresh();
    const graceKey = await loadServiceSecret(store, encryption, GRACE_KEY_NAME);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const feed = new FeedSignal();
    const verificationCache = new VerificationCache(
      store,
      feed,
      clock,
      revocationWindowMs({ ...config.tokens, ...config.sessions }),
      (error) => logger.warn({ err: error }, "revocation feed could not be read; verifying against the database until it can"),
      registry,
    );
    const databaseWatch = new DatabaseWatch(store, config.databaseHealthIntervalMs);
    databaseWatch.onChecked((state, changed) => {
      if (!changed) return;
      if (state === "writable") logger.info("database writable again: every service SERVING");
      else if (state === "read_only") logger.warn("database refuses writes (read-only): SessionService and TokenService NOT_SERVING");
      else logger.warn("database unreachable: SessionService and TokenService NOT_SERVING; VerifyAccessToken answers from its cache for up to VERIFY_STALE_LIMIT");
    });
    const denialAudit = new DenialAudit(store, DENIAL_FLUSH_INTERVAL_MS, (error) => logger.warn({ err: error }, "refused calls could not be written to the audit log; retrying"), registry);
    const deps: Dependencies = {
      store,
      clock,
      tokens: new TokenIssuer(keyRing, config.tokens, clock, randomBytes),
      settings: { ...config.tokens, ...config.sessions },
      graceKey,
      keyRing,
      keySettings: keySettingsOf(config),
      encryption,
      feed,
      verificationCache,
      verifiedTokens: new VerifiedTokens(config.revocations.verifiedTokenCacheSize),
      databaseWatch,
      denialAudit,
      auditRetentionMs: config.auditRetentionMs,
      verifyStaleLimitMs: config.revocations.verifyStaleLimitMs,
      orgScopes: config.callers.orgScopes,
      heartbeatIntervalMs: config.revocations.heartbeatIntervalMs,
      eventRetentionMs: config.revocations.eventRetentionMs,
      observer: new ServiceMetrics(registry, store, database, clock, (error) => logger.warn({ err: error }, "active sessions could not be counted for /metrics")),
    };
    // This replica's own revocations count at once; the feed (woken by the
    // commit's NOTIFY, on both back ends) brings everyone's.
    store.onEventsCommitted((events) => verificationCache.applyCommitted(events));
    feed.start(database, config.revocations.listenRetryDelayMs, (error) =>
      logger.warn({ err: error }, "revocation LISTEN connection lost; verifying against the database until it is back"),
    );
    keyRing.startRefreshing(config.signingKeys.refreshIntervalMs, (error) => logger.warn({ err: error }, "signing keys could not be re-read; keeping the last view"));
    databaseWatch.start();
    denialAudit.start();
    const stopBackground = async () => {
      databaseWatch.stop();
      await denialAudit.stop();
      keyRing.stopRefreshing();
      verificationCache.stop();
      await feed.stop();
      await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, "traces could not be flushed"));
    };
    try {
      await verificationCache.start();
      return await startServers(config, { logger, callLog: options.callLog ?? logger }, deps, database, { allowAnonymous, tlsFiles, tracer: tracing?.tracer }, registry, stopBackground);
    } catch (error) {
      await stopBackground();
      throw error;
    }
  } catch (error) {
    await database.close();
    throw error;
  }
}

async function startServers(
  config: Config,
  { logger, callLog }: { readonly logger: Logger; readonly callLog: Logger },
  deps: Dependencies,
  database: Database,
  transport: { readonly allowAnonymous: boolean; readonly tlsFiles: WatchedTlsFiles | undefined; readonly tracer: Tracer | undefined },
  registry: Registry,
  stopBackground: () => Promise<void>,
) {
  const { allowAnonymous, tlsFiles } = transport;
  const { server, health, revocationStreams } = buildGrpcServer(deps, logger, { ...config.callers, allowAnonymous }, config.extAuthz, registry, callLog, transport.tracer);
  const grpcPort = await bindGrpcServer(server, config.grpc.host, config.grpc.port, tlsFiles?.credentials());
  tlsFiles?.start();
  let serving = true;
  const availability = (): Availability => ({
    serving,
    databaseReachable: deps.databaseWatch.reachable,
    databaseWritable: deps.databaseWatch.writable,
    verificationUsable:
      deps.keyRing.publicKeys().length > 0 && (deps.databaseWatch.reachable || deps.verificationCache.usableStale(deps.verifyStaleLimitMs)),
  });
  const side = await startSideServer(
    {
      registry,
      jwks: () => ({ keys: deps.keyRing.publicKeys() }),
      jwksMaxAgeSeconds: Math.floor(config.signingKeys.jwksMaxAgeMs / 1000),
      discovery: { issuer: config.tokens.issuer, publicBaseUrl: config.http.publicBaseUrl },
      health: () => healthStatuses(availability()),
    },
    config.http.host,
    config.http.port,
  ).catch((error: unknown) => {
    tlsFiles?.stop();
    server.forceShutdown();
    throw error;
  });
  const applyHealth = () => {
    for (const [name, status] of healthStatuses(availability())) health.setStatus(name, status);
  };
  applyHealth();
  // Each ping re-applies: the cache's allowance for staleness runs out with time, not with events.
  const stopApplyingHealth = deps.databaseWatch.onChecked(applyHealth);
  const sweep = setInterval(() => {
    enforceRetention(deps).then(
      (result) => logger.info(result, "retention sweep"),
      (error: unknown) => logger.warn({ err: error }, "retention sweep failed"),
    );
  }, config.sessions.retentionSweepIntervalMs);
  sweep.unref();
  // grpc then http, first: scripts (and the tests) read the ports from this line.
  const tls = tlsFiles === undefined ? "off" : config.grpc.tls?.clientCaFile === undefined ? "on" : "mutual";
  logger.info({ grpc: `${config.grpc.host}:${grpcPort}`, http: `${config.http.host}:${side.port}`, tls }, "serving");

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      serving = false;
      stopApplyingHealth();
      applyHealth();
      clearInterval(sweep);
      tlsFiles?.stop();
      // Give load balancers and mesh sidecars time to see NOT_SERVING.
      await sleep(config.shutdown.drainDelayMs);
      // Streams never finish on their own: end them so watchers move to another replica.
      const streams = revocationStreams.closeAll();
      if (streams > 0) logger.info({ streams }, "revocation streams ended for shutdown");
      await drain(server, config.shutdown.timeoutMs, logger);
      await stopBackground();
      await closeHttp(side.server);
      await database.close();
      logger.info("stopped");
    })();
    return stopping;
  };
  return { grpcPort, httpPort: side.port, database, enforceRetention: () => enforceRetention(deps), shutdown };
}

function drain(server: import("@grpc/grpc-js").Server, timeoutMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      logger.warn("in-flight calls did not finish within the shutdown timeout; cancelling them");
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
