import { readFileSync } from "node:fs";
import { credentials as channelCredentials, Metadata, type CallOptions, type ChannelCredentials, type ChannelOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { ErrorInfo } from "./generated/google/rpc/error_details.js";
import { Status } from "./generated/google/rpc/status.js";
import { AuditServiceClient } from "./generated/sessionauthority/v1/audit_service.js";
import { SessionServiceClient } from "./generated/sessionauthority/v1/session_service.js";
import { TokenServiceClient } from "./generated/sessionauthority/v1/token_service.js";

// Helpers around the buf-generated grpc-js clients (src/generated, from
// ts-proto) so every TypeScript caller gets the same timeouts, retries and
// error reading as the Go and Python clients.

// Copied beside this package from the repository's clients/service-config.json
// by `npm run generate`, so the package carries it wherever it is installed.
const SERVICE_CONFIG_FILE = new URL("../service-config.json", import.meta.url);

/** The shipped gRPC service config: per-method timeouts, and retries only for the idempotent RPCs. */
export function serviceConfig(): string {
  return readFileSync(SERVICE_CONFIG_FILE, "utf8");
}

/** Channel options that apply the shipped service config; pass them to a client's constructor. */
export function channelOptions(extra: ChannelOptions = {}): ChannelOptions {
  return { "grpc.service_config": serviceConfig(), "grpc.enable_retries": 1, ...extra };
}

export interface Clients {
  readonly sessions: SessionServiceClient;
  readonly tokens: TokenServiceClient;
  readonly audit: AuditServiceClient;
  /** Closes the three clients' channels. */
  close(): void;
}

/** The three service clients on `target`, with the shipped service config. Plaintext unless `credentials` says otherwise. */
export function createClients(target: string, credentials: ChannelCredentials = channelCredentials.createInsecure(), options: ChannelOptions = {}): Clients {
  const merged = channelOptions(options);
  const sessions = new SessionServiceClient(target, credentials, merged);
  const tokens = new TokenServiceClient(target, credentials, merged);
  const audit = new AuditServiceClient(target, credentials, merged);
  return { sessions, tokens, audit, close: () => [sessions, tokens, audit].forEach((client) => client.close()) };
}

/** Call metadata carrying an API key as `authorization: Bearer …` (servers that set API_KEYS require it). */
export function apiKeyMetadata(apiKey: string | undefined): Metadata {
  const metadata = new Metadata();
  if (apiKey !== undefined && apiKey !== "") metadata.set("authorization", `Bearer ${apiKey}`);
  return metadata;
}

type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Response) => void,
) => ClientUnaryCall;

/**
 * A generated client's unary method as a function returning a promise:
 * `const createSession = unary(clients.sessions, clients.sessions.createSession)`.
 */
export function unary<Request, Response>(
  client: object,
  method: UnaryMethod<Request, Response>,
): (request: Request, metadata?: Metadata, options?: Partial<CallOptions>) => Promise<Response> {
  return (request, metadata = new Metadata(), options = {}) =>
    new Promise((resolve, reject) => {
      method.call(client, request, metadata, options, (error, response) => (error === null ? resolve(response) : reject(error)));
    });
}

/**
 * The `google.rpc.ErrorInfo` reason of a failed call (TOKEN_REUSED,
 * SESSION_NOT_FOUND…): what callers branch on. Undefined when the error
 * carries none, e.g. a transport failure.
 */
export function errorReason(error: unknown): string | undefined {
  return errorInfo(error)?.reason;
}

/** The whole `google.rpc.ErrorInfo` of a failed call (reason, domain, metadata), decoded from `grpc-status-details-bin`. */
export function errorInfo(error: unknown): ErrorInfo | undefined {
  const metadata = (error as Partial<ServiceError> | undefined)?.metadata;
  const raw = metadata instanceof Metadata ? metadata.get("grpc-status-details-bin")[0] : undefined;
  if (!(raw instanceof Buffer)) return undefined;
  const detail = Status.decode(raw).details.find((any) => any.typeUrl.endsWith("/google.rpc.ErrorInfo"));
  return detail === undefined ? undefined : ErrorInfo.decode(detail.value);
}
