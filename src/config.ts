import { readFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import path from "node:path";
import { z } from "zod";
import type { SigningAlgorithm } from "./crypto/signing-key.js";
import type { LifetimeSettings } from "./domain/lifetimes.js";
import { parseDurationMs } from "./duration.js";
import type { EdgeRoute } from "./domain/edge-routes.js";
import { readEdgePolicy } from "./edge-policy-file.js";

// The only reader of process.env: everything else receives a typed Config.

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDurationMs(text);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `"${text}" is not a duration such as 30s, 10m, 14d` });
        return z.NEVER;
      }
      return ms;
    });

const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);
const count = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const sha256Hex = /^[0-9a-f]{64}$/;
// A header Envoy may set on the upstream request: a lowercase token (RFC 9110), not one that routes or authenticates.
const headerName = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((name) => name.toLowerCase())
    .refine((name) => /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name) && !["authorization", "host", "cookie", "content-length", "transfer-encoding"].includes(name), "must be a header name (not authorization, host, cookie or a framing header)");

const envSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL").optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
  DB_PREPARED_STATEMENTS: z.enum(["on", "off", "true", "false"]).default("off").transform((value) => value === "on" || value === "true"),
  GRPC_HOST: z.string().min(1).default("127.0.0.1"),
  GRPC_PORT: port(50051),
  HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  HTTP_PORT: port(8080),
  // Where callers reach the side port (a proxy, an Ingress, a path prefix it strips); the discovery documents' jwks_uri is built on it.
  PUBLIC_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .refine((text) => !/[?#]/.test(text), "must have no query or fragment")
    .transform((text) => text.replace(/\/+$/, ""))
    .optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TOKEN_ISSUER: z.string().min(1).default("session-authority"),
  TOKEN_AUDIENCE: z.string().min(1).default("platform"),
  ACCESS_TOKEN_TTL: duration("10m"),
  ACCESS_TOKEN_LEEWAY: duration("60s").refine((ms) => ms <= 60_000, "must be at most 60s"),
  SIGNING_ALGORITHM: z.enum(["EdDSA", "ES256", "RS256"]).default("EdDSA"),
  ACCESS_TOKEN_TTL_MAX: duration("1h"),
  REFRESH_TOKEN_TTL: duration("14d"),
  REFRESH_TOKEN_TTL_MAX: duration("30d"),
  SESSION_TTL: duration("90d"),
  SESSION_TTL_MAX: duration("365d"),
  MAX_ACTIVE_SESSIONS_PER_USER: count(0),
  SUSPICIOUS_ACTIVITY_THRESHOLD: count(5),
  TOUCH_COALESCE_WINDOW: duration("5s"),
  REFRESH_GRACE_WINDOW: duration("10s"),
  REFRESH_GRACE_MAX_REPLAYS: count(3),
  REFRESH_BURST_WINDOW: duration("5s"),
  CLIENT_INFO_RETENTION: duration("90d"),
  ENDED_SESSION_RETENTION: duration("30d"),
  RETENTION_SWEEP_INTERVAL: duration("1h"),
  API_KEYS: z.string().default(""),
  CLI_API_KEY: z.string().min(1).optional(),
  RATE_LIMIT: z.coerce.number().min(0).default(0),
  RATE_LIMIT_BURST: z.coerce.number().int().min(0).default(0),
  POLICY_FILE: z.string().optional(),
  // OpenTelemetry's own variable names, so platform defaults apply unchanged.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_HEADERS: z.string().default(""),
  OTEL_SERVICE_NAME: z.string().min(1).default("session-authority"),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  KEK_FILE: z.string().min(1).optional(),
  KEK_PREVIOUS_FILES: z.string().default(""),
  JWKS_MAX_AGE: duration("5m"),
  KEY_REFRESH_INTERVAL: duration("10s").refine((ms) => ms >= 100, "must be at least 100ms"),
  EVENT_RETENTION: duration("7d"),
  WATCH_HEARTBEAT_INTERVAL: duration("15s").refine((ms) => ms >= 100, "must be at least 100ms"),
  LISTEN_RETRY_DELAY: duration("1s").refine((ms) => ms >= 10, "must be at least 10ms"),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  TLS_CLIENT_CA_FILE: z.string().min(1).optional(),
  TLS_RELOAD_INTERVAL: duration("10s").refine((ms) => ms >= 100, "must be at least 100ms"),
  TRUSTED_PROXIES: z.string().default(""),
  AUDIT_RETENTION: duration("365d"),
  DB_HEALTH_INTERVAL: duration("2s").refine((ms) => ms >= 50, "must be at least 50ms"),
  VERIFY_STALE_LIMIT: duration("5m"),
  VERIFIED_TOKEN_CACHE_SIZE: count(10_000),
  SHUTDOWN_DRAIN_DELAY: duration("0s"),
  SHUTDOWN_TIMEOUT: duration("10s"),
  EXT_AUTHZ_POLICY_FILE: z.string().min(1).optional(),
  EXT_AUTHZ_REALM: z.string().min(1).regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, "must be printable ASCII without quotes or backslashes").default("session-authority"),
  EXT_AUTHZ_SESSION_ID_HEADER: headerName("x-session-id"),
  EXT_AUTHZ_USER_ID_HEADER: headerName("x-user-id"),
  EXT_AUTHZ_ORG_ID_HEADER: headerName("x-org-id"),
});

export interface CallerKey {
  readonly caller: string;
  readonly sha256: Buffer;
}

/**
 * Sidecars whose `x-forwarded-client-cert` header is believed: by their own
 * client-certificate identity, or (without mutual TLS) by address.
 */
export interface TrustedProxies {
  readonly identities: ReadonlySet<string>;
  readonly addresses: BlockList;
}

export type Policy = ReadonlyMap<string, readonly string[]>;

/** Caller → the organisations it is limited to; callers absent are not limited. */
export type OrgScopes = ReadonlyMap<string, readonly string[]>;

export interface Config {
  readonly database: { readonly url: string | undefined; readonly dataDir: string; readonly poolSize: number; readonly preparedStatements: boolean };
  readonly grpc: {
    readonly host: string;
    readonly port: number;
    readonly tls: { readonly certFile: string; readonly keyFile: string; readonly clientCaFile: string | undefined; readonly reloadIntervalMs: number } | undefined;
  };
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** PUBLIC_BASE_URL without a trailing slash; undefined: the discovery documents use each request's Host. */
    readonly publicBaseUrl: string | undefined;
  };
  readonly logLevel: string;
  /** Traces over OTLP/HTTP; undefined (off) unless an endpoint is set. */
  readonly tracing: { readonly url: string; readonly headers: Readonly<Record<string, string>>; readonly serviceName: string; readonly sampleRatio: number } | undefined;
  readonly tokens: LifetimeSettings & { readonly issuer: string; readonly audience: string; readonly signingAlgorithm: SigningAlgorithm };
  readonly sessions: {
    readonly maxActivePerUser: number;
    readonly suspiciousActivityThreshold: number;
    readonly touchCoalesceMs: number;
    readonly clientInfoRetentionMs: number;
    readonly endedSessionRetentionMs: number;
    readonly retentionSweepIntervalMs: number;
    readonly graceWindowMs: number;
    readonly graceMaxReplays: number;
    readonly burstWindowMs: number;
    readonly accessTokenLeewayMs: number;
  };
  readonly signingKeys: {
    /** The KEK wrapping private keys at rest; undefined on the embedded default, which keeps one in DATA_DIR. */
    readonly kekFile: string | undefined;
    readonly previousKekFiles: readonly string[];
    /** Cache-Control max-age of the JWKS; a rotated key is published this long (plus the refresh interval) before it signs. */
    readonly jwksMaxAgeMs: number;
    /** How often each replica re-reads the key table. */
    readonly refreshIntervalMs: number;
  };
  readonly revocations: {
    /** How long events are kept; older cursors get OUT_OF_RANGE. */
    readonly eventRetentionMs: number;
    readonly heartbeatIntervalMs: number;
    /** First wait before re-opening a lost LISTEN connection (doubling, up to 30 s). */
    readonly listenRetryDelayMs: number;
    /** How long after the cache stopped being current VerifyAccessToken may answer from it while the database is out of reach. */
    readonly verifyStaleLimitMs: number;
    /** Access tokens whose signature VerifyAccessToken has checked and need not check again; 0: check every time. */
    readonly verifiedTokenCacheSize: number;
  };
  /** How long audit entries are kept, whatever happens to what they describe. */
  readonly auditRetentionMs: number;
  /** How often each replica pings its database for health and readiness. */
  readonly databaseHealthIntervalMs: number;
  /** The key the `keys` commands present when they go through a running server's RPCs. */
  readonly cliApiKey: string | undefined;
  readonly callers: {
    readonly keys: readonly CallerKey[];
    readonly trustedProxies: TrustedProxies;
    readonly policy: Policy | undefined;
    readonly orgScopes: OrgScopes;
    readonly rateLimits: { readonly perSecond: number; readonly burst: number; readonly overrides: ReadonlyMap<string, number> };
  };
  readonly shutdown: { readonly drainDelayMs: number; readonly timeoutMs: number };
  /** Envoy's ext_authz Check: which routes need what, and the headers it hands the upstream. */
  readonly extAuthz: {
    readonly routes: readonly EdgeRoute[];
    readonly realm: string;
    readonly headers: { readonly sessionId: string; readonly userId: string; readonly orgId: string };
  };
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  if (e.DATABASE_URL !== undefined && e.KEK_FILE === undefined) {
    // A KEK next to the data would protect nothing once replicas share a
    // database: the operator must provide one from a secret store.
    throw new ConfigError(
      "invalid configuration: KEK_FILE: required with DATABASE_URL (a file holding 32 random bytes, e.g. `openssl rand -base64 32 > kek`), so private signing keys are encrypted at rest",
    );
  }
  return {
    database: { url: e.DATABASE_URL, dataDir: path.resolve(e.DATA_DIR), poolSize: e.DB_POOL_SIZE, preparedStatements: e.DB_PREPARED_STATEMENTS },
    grpc: { host: e.GRPC_HOST, port: e.GRPC_PORT, tls: tlsOf(e) },
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT, publicBaseUrl: e.PUBLIC_BASE_URL },
    logLevel: e.LOG_LEVEL,
    tokens: {
      issuer: e.TOKEN_ISSUER,
      signingAlgorithm: e.SIGNING_ALGORITHM,
      audience: e.TOKEN_AUDIENCE,
      accessTtlMs: e.ACCESS_TOKEN_TTL,
      accessTtlMaxMs: e.ACCESS_TOKEN_TTL_MAX,
      refreshTtlMs: e.REFRESH_TOKEN_TTL,
      refreshTtlMaxMs: e.REFRESH_TOKEN_TTL_MAX,
      sessionTtlMs: e.SESSION_TTL,
      sessionTtlMaxMs: e.SESSION_TTL_MAX,
    },
    sessions: {
      maxActivePerUser: e.MAX_ACTIVE_SESSIONS_PER_USER,
      suspiciousActivityThreshold: e.SUSPICIOUS_ACTIVITY_THRESHOLD,
      touchCoalesceMs: e.TOUCH_COALESCE_WINDOW,
      clientInfoRetentionMs: e.CLIENT_INFO_RETENTION,
      endedSessionRetentionMs: e.ENDED_SESSION_RETENTION,
      retentionSweepIntervalMs: e.RETENTION_SWEEP_INTERVAL,
      graceWindowMs: e.REFRESH_GRACE_WINDOW,
      graceMaxReplays: e.REFRESH_GRACE_MAX_REPLAYS,
      burstWindowMs: e.REFRESH_BURST_WINDOW,
      accessTokenLeewayMs: e.ACCESS_TOKEN_LEEWAY,
    },
    signingKeys: {
      kekFile: e.KEK_FILE === undefined ? undefined : path.resolve(e.KEK_FILE),
      previousKekFiles: e.KEK_PREVIOUS_FILES.split(",").map((file) => file.trim()).filter((file) => file.length > 0).map((file) => path.resolve(file)),
      jwksMaxAgeMs: e.JWKS_MAX_AGE,
      refreshIntervalMs: e.KEY_REFRESH_INTERVAL,
    },
    revocations: {
      eventRetentionMs: e.EVENT_RETENTION,
      heartbeatIntervalMs: e.WATCH_HEARTBEAT_INTERVAL,
      listenRetryDelayMs: e.LISTEN_RETRY_DELAY,
      verifyStaleLimitMs: e.VERIFY_STALE_LIMIT,
      verifiedTokenCacheSize: e.VERIFIED_TOKEN_CACHE_SIZE,
    },
    databaseHealthIntervalMs: e.DB_HEALTH_INTERVAL,
    auditRetentionMs: e.AUDIT_RETENTION,
    cliApiKey: e.CLI_API_KEY,
    callers: { ...callersOf(e.API_KEYS, e.POLICY_FILE, e.RATE_LIMIT, e.RATE_LIMIT_BURST), trustedProxies: parseTrustedProxies(e.TRUSTED_PROXIES) },
    shutdown: { drainDelayMs: e.SHUTDOWN_DRAIN_DELAY, timeoutMs: e.SHUTDOWN_TIMEOUT },
    extAuthz: extAuthzOf(e),
    tracing: tracingOf(e),
  };
}

function extAuthzOf(e: z.infer<typeof envSchema>): Config["extAuthz"] {
  const headers = { sessionId: e.EXT_AUTHZ_SESSION_ID_HEADER, userId: e.EXT_AUTHZ_USER_ID_HEADER, orgId: e.EXT_AUTHZ_ORG_ID_HEADER };
  if (new Set(Object.values(headers)).size !== 3) {
    throw new ConfigError("invalid configuration: EXT_AUTHZ_SESSION_ID_HEADER, EXT_AUTHZ_USER_ID_HEADER, EXT_AUTHZ_ORG_ID_HEADER: must be three different headers");
  }
  let routes: EdgeRoute[] = [];
  try {
    if (e.EXT_AUTHZ_POLICY_FILE !== undefined) routes = readEdgePolicy(e.EXT_AUTHZ_POLICY_FILE);
  } catch (error) {
    throw new ConfigError(`invalid configuration: EXT_AUTHZ_POLICY_FILE: ${(error as Error).message}`);
  }
  return { routes, realm: e.EXT_AUTHZ_REALM, headers };
}

// As the OpenTelemetry specification reads them: a per-signal endpoint is
// used as it is; the general one gets /v1/traces appended.
function tracingOf(e: z.infer<typeof envSchema>): Config["tracing"] {
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? undefined : `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`);
  if (url === undefined) return undefined;
  const headers: Record<string, string> = {};
  for (const pair of e.OTEL_EXPORTER_OTLP_HEADERS.split(",").filter((item) => item.trim() !== "")) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new ConfigError(`invalid configuration: OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs, comma separated`);
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return { url, headers, serviceName: e.OTEL_SERVICE_NAME, sampleRatio: e.OTEL_TRACES_SAMPLER_ARG };
}

function tlsOf(e: z.infer<typeof envSchema>): Config["grpc"]["tls"] {
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    throw new ConfigError("invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE: set both (the server certificate chain and its private key, PEM) or neither");
  }
  if (e.TLS_CERT_FILE === undefined || e.TLS_KEY_FILE === undefined) {
    if (e.TLS_CLIENT_CA_FILE !== undefined) throw new ConfigError("invalid configuration: TLS_CLIENT_CA_FILE: mutual TLS needs TLS_CERT_FILE and TLS_KEY_FILE too");
    return undefined;
  }
  return {
    certFile: path.resolve(e.TLS_CERT_FILE),
    keyFile: path.resolve(e.TLS_KEY_FILE),
    clientCaFile: e.TLS_CLIENT_CA_FILE === undefined ? undefined : path.resolve(e.TLS_CLIENT_CA_FILE),
    reloadIntervalMs: e.TLS_RELOAD_INTERVAL,
  };
}

// TRUSTED_PROXIES lists sidecars, comma separated: an IP address or CIDR
// (e.g. 127.0.0.1 for a sidecar in the same pod) or, with mutual TLS, the
// identity in the sidecar's own certificate (spiffe://… or a CN).
function parseTrustedProxies(text: string): TrustedProxies {
  const identities = new Set<string>();
  const addresses = new BlockList();
  for (const entry of text.split(",").map((item) => item.trim()).filter((item) => item.length > 0)) {
    const [address, bits] = entry.split("/");
    const family = address === undefined ? 0 : isIP(address);
    if (family === 0) {
      if (bits !== undefined && !entry.includes("://")) throw new ConfigError(`invalid configuration: TRUSTED_PROXIES: "${entry}" is neither an IP address, a CIDR nor an identity`);
      identities.add(entry);
      continue;
    }
    const type = family === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) {
      addresses.addAddress(address as string, type);
      continue;
    }
    const prefix = Number(bits);
    if (!/^\d+$/.test(bits) || prefix > (family === 6 ? 128 : 32)) throw new ConfigError(`invalid configuration: TRUSTED_PROXIES: "${entry}" has a bad prefix length`);
    addresses.addSubnet(address as string, prefix, type);
  }
  return { identities, addresses };
}

function callersOf(apiKeys: string, policyFile: string | undefined, perSecond: number, burst: number): Omit<Config["callers"], "trustedProxies"> {
  const policy = policyFile ? readPolicy(policyFile) : undefined;
  return {
    keys: parseApiKeys(apiKeys),
    policy: policy?.rules,
    orgScopes: policy?.orgScopes ?? new Map(),
    rateLimits: { perSecond, burst, overrides: policy?.rateLimits ?? new Map() },
  };
}

// API_KEYS holds "caller:sha256hex" pairs, comma separated: only hashes, so
// the configuration itself is not a secret worth stealing.
function parseApiKeys(text: string): CallerKey[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => {
      const separator = entry.lastIndexOf(":");
      const caller = entry.slice(0, separator);
      const hash = entry.slice(separator + 1).toLowerCase();
      if (separator <= 0 || !sha256Hex.test(hash)) {
        throw new ConfigError(`invalid configuration: API_KEYS: entries must be "caller:<sha256 hex of the key>"`);
      }
      return { caller, sha256: Buffer.from(hash, "hex") };
    });
}

const policySchema = z.object({
  callers: z.record(z.string().min(1), z.array(z.string().min(1))),
  orgs: z.record(z.string().min(1), z.array(z.string().min(1))).optional(),
  rateLimits: z.record(z.string().min(1), z.number().min(0)).optional(),
});

// The policy file maps a caller to the RPCs it may call, as full method
// names ("sessionauthority.v1.SessionService/CreateSession"), a service
// wildcard ("sessionauthority.v1.SessionService/*") or "*"; and, under
// "orgs", a caller to the only organisations whose sessions it may see
// (a caller not listed there sees every organisation); and, under
// "rateLimits", per-caller request rates that replace RATE_LIMIT.
function readPolicy(file: string): { rules: Policy; orgScopes: OrgScopes; rateLimits: ReadonlyMap<string, number> } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`invalid configuration: POLICY_FILE: cannot read ${file} as JSON (${String(error)})`);
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: POLICY_FILE: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return {
    rules: new Map(Object.entries(parsed.data.callers)),
    orgScopes: new Map(Object.entries(parsed.data.orgs ?? {})),
    rateLimits: new Map(Object.entries(parsed.data.rateLimits ?? {})),
  };
}
