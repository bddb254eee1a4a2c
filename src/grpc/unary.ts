import type * as grpc from "@grpc/grpc-js";
import type { Caller } from "../domain/context.js";
import type { Dependencies } from "../domain/dependencies.js";
import { DomainError } from "../domain/errors.js";
import type { Logger } from "../logger.js";
import { DatabaseUnavailableError, DeadlineExceededError } from "../store/errors.js";
import { ANY_CALLER_HEADER, VERIFIED_CALLER_HEADER } from "./interceptors/caller-auth.js";
import { CALL_TRACEPARENT_HEADER } from "./interceptors/call-tracing.js";
import { isMalformed, malformedRequestError } from "./malformed-request.js";
import { errorStatus, statusForCode, type ErrorStatus } from "./status.js";

export interface CallContext {
  readonly caller: Caller;
  /** The service's dependencies for this call: its store stops at the call's deadline. */
  readonly deps: Dependencies;
}

export type UnaryHandler<Request, Response> = (request: Request, context: CallContext) => Promise<Response>;

/**
 * Wraps every unary handler: grpc-js does not turn a rejected promise into a
 * status, so this awaits the use case, maps domain errors through the one
 * table in status.ts, and turns anything unexpected into INTERNAL with a log
 * line (never the error's text, which might hold input).
 */
export function unaryFor(deps: Dependencies, logger: Logger) {
  return function unary<Request, Response>(handler: UnaryHandler<Request, Response>): grpc.handleUnaryCall<Request, Response> {
    return (call, callback) => {
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      // Set by the tracing interceptor; with tracing off nothing sets it, and a client's own value is ignored.
      const traceparent = deps.store.tracing ? call.metadata.get(CALL_TRACEPARENT_HEADER)[0] : undefined;
      const context: CallContext = {
        caller: {
          id: String(call.metadata.get(VERIFIED_CALLER_HEADER)[0] ?? "anonymous"),
          anyCaller: call.metadata.get(ANY_CALLER_HEADER)[0] === "granted",
        },
        deps: Number.isFinite(deadlineMs) || traceparent !== undefined ? { ...deps, store: deps.store.forCall(deadlineMs, String(traceparent ?? "")) } : deps,
      };
      const run = isMalformed(call.request) ? Promise.reject(malformedRequestError()) : handler(call.request, context);
      run.then(
        (response) => callback(null, response),
        (error: unknown) => callback(toErrorStatus(error, logger, call.getPath())),
      );
    };
  };
}

export function toErrorStatus(error: unknown, logger: Logger, method: string): ErrorStatus {
  if (error instanceof DomainError) {
    // The cause is for operators (e.g. a token presented by the wrong caller); never sent.
    if (error.cause !== undefined) logger.warn({ method, code: error.code, cause: String(error.cause) }, "refused");
    return errorStatus(statusForCode[error.code], error.code, error.message, { ...error.metadata });
  }
  if (error instanceof DeadlineExceededError) {
    logger.info({ method }, "deadline passed; the work was rolled back");
    return errorStatus(statusForCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "the call's deadline passed before its work committed; nothing was changed");
  }
  if (error instanceof DatabaseUnavailableError) {
    logger.warn({ method, err: error.cause ?? error }, "database unavailable");
    return errorStatus(statusForCode.DATABASE_UNAVAILABLE, "DATABASE_UNAVAILABLE", "the database is unavailable; retry with backoff");
  }
  logger.error({ method, err: error }, "unexpected error");
  return errorStatus(13, "INTERNAL_ERROR", "internal error");
}
