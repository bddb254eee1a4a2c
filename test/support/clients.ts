import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { rememberSecret, rememberTokensIn, secretsIn } from "./secret-scan.js";
import { decodeErrorInfo, type DecodedErrorInfo } from "../../src/grpc/status.js";
import { services } from "../../src/grpc/proto.js";
import type { SessionServiceClient, SessionServiceDefinition } from "../../src/generated/proto/types/sessionauthority/v1/SessionService.js";
import type { TokenServiceClient, TokenServiceDefinition } from "../../src/generated/proto/types/sessionauthority/v1/TokenService.js";

export interface Clients {
  readonly sessions: SessionServiceClient;
  readonly tokens: TokenServiceClient;
  /** SessionService calls as promises. */
  readonly session: UnaryCaller<SessionServiceDefinition>;
  /** TokenService calls as promises. */
  readonly token: UnaryCaller<TokenServiceDefinition>;
  close(): void;
}

export function connectClients(port: number, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): Clients {
  const address = `127.0.0.1:${port}`;
  const v1 = services.sessionauthority.v1;
  const sessions = new v1.SessionService(address, credentials, options);
  const tokens = new v1.TokenService(address, credentials, options);
  return {
    sessions,
    tokens,
    session: unaryCaller(sessions, v1.SessionService.service),
    token: unaryCaller(tokens, v1.TokenService.service),
    close() {
      sessions.close();
      tokens.close();
    },
  };
}

type RequestOf<Method> = Method extends MethodDefinition<infer Request, object, object, object> ? Request : never;
type ResponseOf<Method> = Method extends MethodDefinition<object, object, object, infer Response> ? Response : never;

/** Promise form of every unary method of a service: `call("CreateSession", request, metadata)`. */
export type UnaryCaller<Definition> = <Name extends keyof Definition & string>(
  method: Name,
  request: RequestOf<Definition[Name]>,
  metadata?: grpc.Metadata,
) => Promise<ResponseOf<Definition[Name]>>;

export function unaryCaller<Definition extends grpc.ServiceDefinition>(client: grpc.Client, definition: Definition): UnaryCaller<Definition> {
  return (method, request, metadata = new grpc.Metadata()) =>
    new Promise((resolve, reject) => {
      const descriptor = definition[method] as unknown as grpc.MethodDefinition<typeof request, ResponseOf<Definition[typeof method]>>;
      client.makeUnaryRequest(
        descriptor.path,
        descriptor.requestSerialize,
        descriptor.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + 20_000 },
        (error, response) => {
          if (error) reject(error);
          else if (response === undefined) reject(new Error("no response"));
          else {
            rememberTokensIn(response);
            resolve(response);
          }
        },
      );
    });
}

export interface CallFailure {
  readonly code: grpc.status;
  readonly codeName: string;
  readonly details: string;
  readonly errorInfo: DecodedErrorInfo | undefined;
}

/** Runs a call that must fail and returns its status and decoded ErrorInfo. */
export async function failure(promise: Promise<unknown>): Promise<CallFailure> {
  try {
    await promise;
  } catch (error) {
    const serviceError = error as grpc.ServiceError;
    if (typeof serviceError.code !== "number") throw error;
    // Error details reach callers: no secret may be in them either.
    const leaks = secretsIn(serviceError.details);
    if (leaks.length > 0) throw new Error(`a secret is in error details: ${leaks.join(", ")}`);
    return {
      code: serviceError.code,
      codeName: grpc.status[serviceError.code] ?? String(serviceError.code),
      details: serviceError.details,
      errorInfo: decodeErrorInfo(serviceError.metadata),
    };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export function apiKeyMetadata(key: string, header: "authorization" | "x-api-key" = "authorization"): grpc.Metadata {
  rememberSecret(key);
  const metadata = new grpc.Metadata();
  metadata.set(header, header === "authorization" ? `Bearer ${key}` : key);
  return metadata;
}

/** The API_KEYS setting for callers and their keys: `caller:sha256hex,…`, as an operator writes it. */
export function apiKeysSetting(keys: Record<string, string>): string {
  return Object.entries(keys)
    .map(([caller, key]) => `${caller}:${createHash("sha256").update(key).digest("hex")}`)
    .join(",");
}
