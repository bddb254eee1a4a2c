import * as grpc from "@grpc/grpc-js";
import type { ErrorCode } from "../domain/errors.js";
import { ErrorInfoMessage, RetryInfoMessage, StatusMessage } from "./rich-status-types.js";

// The one table from domain error codes to gRPC status codes, and the
// encoding of google.rpc.Status with ErrorInfo into grpc-status-details-bin.

export const ERROR_DOMAIN = "sessionauthority";

export const statusForCode: Readonly<Record<ErrorCode, grpc.status>> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  RESERVED_CLAIM: grpc.status.INVALID_ARGUMENT,
  INVALID_PAGE_TOKEN: grpc.status.INVALID_ARGUMENT,
  SESSION_NOT_FOUND: grpc.status.NOT_FOUND,
  SESSION_REVOKED: grpc.status.FAILED_PRECONDITION,
  SESSION_EXPIRED: grpc.status.FAILED_PRECONDITION,
  TOKEN_UNKNOWN: grpc.status.UNAUTHENTICATED,
  TOKEN_EXPIRED: grpc.status.UNAUTHENTICATED,
  TOKEN_REVOKED: grpc.status.UNAUTHENTICATED,
  TOKEN_REUSED: grpc.status.UNAUTHENTICATED,
  VERSION_STALE: grpc.status.UNAUTHENTICATED,
  CONCURRENT_REFRESH: grpc.status.ABORTED,
  LOGIN_ALREADY_REFRESHED: grpc.status.FAILED_PRECONDITION,
  TOKEN_INVALID: grpc.status.UNAUTHENTICATED,
  TOKEN_NOT_FOUND: grpc.status.NOT_FOUND,
  TOKEN_SIGNATURE_INVALID: grpc.status.UNAUTHENTICATED,
  TOKEN_ALGORITHM_REFUSED: grpc.status.UNAUTHENTICATED,
  TOKEN_KEY_UNKNOWN: grpc.status.UNAUTHENTICATED,
  TOKEN_ISSUED_IN_FUTURE: grpc.status.UNAUTHENTICATED,
  TOKEN_CLAIM_MISMATCH: grpc.status.UNAUTHENTICATED,
  TOKEN_KEY_REVOKED: grpc.status.UNAUTHENTICATED,
  SIGNING_KEY_NOT_FOUND: grpc.status.NOT_FOUND,
  KEY_ROTATION_PENDING: grpc.status.FAILED_PRECONDITION,
  SIGNING_KEY_UNAVAILABLE: grpc.status.UNAVAILABLE,
  CURSOR_EXPIRED: grpc.status.OUT_OF_RANGE,
  ORG_NOT_ALLOWED: grpc.status.PERMISSION_DENIED,
  CALLER_UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  CALLER_NOT_ALLOWED: grpc.status.PERMISSION_DENIED,
  DATABASE_UNAVAILABLE: grpc.status.UNAVAILABLE,
  NOT_IMPLEMENTED: grpc.status.UNIMPLEMENTED,
  SHUTTING_DOWN: grpc.status.UNAVAILABLE,
  RATE_LIMITED: grpc.status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
};


export interface ErrorStatus {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata;
}

/**
 * A status whose details carry google.rpc.Status { ErrorInfo { reason,
 * domain, metadata } }, plus google.rpc.RetryInfo when the caller should wait
 * before retrying.
 */
export function errorStatus(
  code: grpc.status,
  reason: string,
  message: string,
  metadata: Record<string, string> = {},
  retryDelayMs?: number,
): ErrorStatus {
  const errorInfo = ErrorInfoMessage.encode(ErrorInfoMessage.fromObject({ reason, domain: ERROR_DOMAIN, metadata })).finish();
  const details = [{ type_url: "type.googleapis.com/google.rpc.ErrorInfo", value: errorInfo }];
  if (retryDelayMs !== undefined) {
    const delay = { seconds: Math.floor(retryDelayMs / 1000), nanos: Math.round((retryDelayMs % 1000) * 1e6) };
    details.push({ type_url: "type.googleapis.com/google.rpc.RetryInfo", value: RetryInfoMessage.encode(RetryInfoMessage.fromObject({ retry_delay: delay })).finish() });
  }
  const status = StatusMessage.encode(StatusMessage.fromObject({ code, message, details })).finish();
  const trailers = new grpc.Metadata();
  trailers.set("grpc-status-details-bin", Buffer.from(status));
  return { code, details: message, metadata: trailers };
}

export interface DecodedErrorInfo {
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Record<string, string>;
}

/** The bytes of one detail (by message name) of the google.rpc.Status in a status's trailers. */
function statusDetail(metadata: grpc.Metadata | undefined, messageName: string): Uint8Array | undefined {
  const raw = metadata?.get("grpc-status-details-bin")[0];
  if (!(raw instanceof Buffer)) return undefined;
  const status = StatusMessage.toObject(StatusMessage.decode(raw)) as { details?: { type_url: string; value: Uint8Array }[] };
  return status.details?.find((detail) => detail.type_url.endsWith(`/${messageName}`))?.value;
}

/** Reads ErrorInfo back from a status's trailers (used by tests and clients in TS). */
export function decodeErrorInfo(metadata: grpc.Metadata | undefined): DecodedErrorInfo | undefined {
  const info = statusDetail(metadata, "google.rpc.ErrorInfo");
  if (info === undefined) return undefined;
  const decoded = ErrorInfoMessage.toObject(ErrorInfoMessage.decode(info)) as Partial<DecodedErrorInfo>;
  return { reason: decoded.reason ?? "", domain: decoded.domain ?? "", metadata: decoded.metadata ?? {} };
}

/** Reads google.rpc.RetryInfo's delay (ms) back from a status's trailers. */
export function decodeRetryDelayMs(metadata: grpc.Metadata | undefined): number | undefined {
  const info = statusDetail(metadata, "google.rpc.RetryInfo");
  if (info === undefined) return undefined;
  const decoded = RetryInfoMessage.toObject(RetryInfoMessage.decode(info), { longs: Number }) as { retry_delay?: { seconds?: number; nanos?: number } };
  return (decoded.retry_delay?.seconds ?? 0) * 1000 + (decoded.retry_delay?.nanos ?? 0) / 1e6;
}
