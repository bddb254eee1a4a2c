import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Registry } from "prom-client";
import { HEALTH_NAMES } from "../availability.js";
import type { Dependencies } from "../domain/dependencies.js";
import type { Logger } from "../logger.js";
import { callLoggingInterceptor } from "./interceptors/call-logging.js";
import { callMetricsInterceptor } from "./interceptors/call-metrics.js";
import { callTracingInterceptor } from "./interceptors/call-tracing.js";
import type { Tracer } from "@opentelemetry/api";
import { callerAuthInterceptor, type CallerAuthOptions } from "./interceptors/caller-auth.js";
import { CallerRateLimiter, rateLimitInterceptor, type RateLimits } from "./interceptors/rate-limit.js";
import { withTolerantDecoding } from "./malformed-request.js";
import { reflectionPackageDefinition, services } from "./proto.js";
import { auditServiceHandlers } from "./audit-service.js";
import { denialAuditInterceptor } from "./interceptors/denial-audit.js";
import { extAuthzHandlers, type ExtAuthzSettings } from "./ext-authz-service.js";
import { sessionServiceHandlers } from "./session-service.js";
import { RevocationStreams } from "./revocation-streams.js";
import { tokenServiceHandlers } from "./token-service.js";

// Bounds the transport enforces before any handler runs.
const MAX_MESSAGE_BYTES = 64 * 1024;

export interface GrpcServerParts {
  readonly server: grpc.Server;
  readonly health: HealthImplementation;
  readonly revocationStreams: RevocationStreams;
}

export function buildGrpcServer(
  deps: Dependencies,
  logger: Logger,
  auth: CallerAuthOptions & { readonly rateLimits: RateLimits },
  extAuthz: ExtAuthzSettings,
  registry: Registry,
  callLog: Logger = logger,
  tracer?: Tracer,
): GrpcServerParts {
  const server = new grpc.Server({
    // Outermost first: logging and metrics also see calls the caller check refuses.
    interceptors: [
      callLoggingInterceptor(callLog),
      callMetricsInterceptor(registry),
      ...(tracer === undefined ? [] : [callTracingInterceptor(tracer)]),
      denialAuditInterceptor(deps.denialAudit),
      callerAuthInterceptor(auth),
      rateLimitInterceptor(new CallerRateLimiter(auth.rateLimits)),
    ],
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_permit_without_calls": 1,
    // No channelz service is served, so its per-call and per-socket counters were kept for nobody.
    "grpc.enable_channelz": 0,
  });
  const v1 = services.sessionauthority.v1;
  server.addService(withTolerantDecoding(v1.SessionService.service), sessionServiceHandlers(deps, logger));
  const revocationStreams = new RevocationStreams(deps, logger);
  server.addService(withTolerantDecoding(v1.TokenService.service), tokenServiceHandlers(deps, logger, auth.policy, revocationStreams));
  server.addService(withTolerantDecoding(v1.AuditService.service), auditServiceHandlers(deps, logger));
  // Envoy's ext_authz, behind the same caller check and policy as every RPC.
  server.addService(withTolerantDecoding(services.envoy.service.auth.v3.Authorization.service), extAuthzHandlers(deps, logger, extAuthz));
  const health = new HealthImplementation(Object.fromEntries(HEALTH_NAMES.map((name) => [name, "NOT_SERVING"])));
  health.addToServer(server);
  new ReflectionService(reflectionPackageDefinition).addToServer(server);
  return { server, health, revocationStreams };
}

export function bindGrpcServer(server: grpc.Server, host: string, port: number, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  const address = host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, boundPort) => {
      if (error) reject(error);
      else resolve(boundPort);
    });
  });
}
