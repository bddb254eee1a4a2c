// The closed set of reasons a call can fail for. Each travels to the caller
// as google.rpc.ErrorInfo.reason; src/grpc/status.ts maps each to one gRPC code.
export const errorCodes = [
  "INVALID_ARGUMENT",
  "RESERVED_CLAIM",
  "INVALID_PAGE_TOKEN",
  "SESSION_NOT_FOUND",
  "SESSION_REVOKED",
  "SESSION_EXPIRED",
  "TOKEN_UNKNOWN",
  "TOKEN_EXPIRED",
  "TOKEN_REVOKED",
  "TOKEN_REUSED",
  "VERSION_STALE",
  "CONCURRENT_REFRESH",
  "LOGIN_ALREADY_REFRESHED",
  "TOKEN_INVALID",
  "TOKEN_NOT_FOUND",
  "TOKEN_SIGNATURE_INVALID",
  "TOKEN_ALGORITHM_REFUSED",
  "TOKEN_KEY_UNKNOWN",
  "TOKEN_ISSUED_IN_FUTURE",
  "TOKEN_CLAIM_MISMATCH",
  "TOKEN_KEY_REVOKED",
  "SIGNING_KEY_NOT_FOUND",
  "KEY_ROTATION_PENDING",
  "SIGNING_KEY_UNAVAILABLE",
  "CURSOR_EXPIRED",
  "ORG_NOT_ALLOWED",
  "CALLER_UNAUTHENTICATED",
  "CALLER_NOT_ALLOWED",
  "DATABASE_UNAVAILABLE",
  "NOT_IMPLEMENTED",
  "SHUTTING_DOWN",
  "RATE_LIMITED",
  "DEADLINE_EXCEEDED",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/**
 * A failure the caller can act on. `message` is public (sent to the caller);
 * `cause` is private (logged, never sent). Neither may contain a secret.
 */
export class DomainError extends Error {
  override readonly name = "DomainError";
  readonly code: ErrorCode;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options: { metadata?: Record<string, string>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.metadata = options.metadata ?? {};
  }
}

export function invalidArgument(field: string, problem: string): DomainError {
  return new DomainError("INVALID_ARGUMENT", `${field}: ${problem}`, { metadata: { field } });
}
