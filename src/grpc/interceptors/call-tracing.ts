import * as grpc from "@grpc/grpc-js";
import { SpanKind, SpanStatusCode, type Span, type Tracer } from "@opentelemetry/api";
import { extractTraceContext, traceparentOf } from "../../tracing.js";
import { callObserver } from "./call-observer.js";

/**
 * Where this interceptor leaves the call's span for the handler (and the
 * transactions it starts): a `traceparent` value. Overwritten on every call,
 * so a client cannot choose it.
 */
export const CALL_TRACEPARENT_HEADER = "x-session-authority-traceparent";

/** A server span per call, child of the caller's `traceparent` when it sent one. */
export function callTracingInterceptor(tracer: Tracer): grpc.ServerInterceptor {
  return callObserver((path) => {
    const [service = "", method = ""] = path.replace(/^\//, "").split("/");
    let span: Span | undefined;
    return {
      onMetadata(metadata) {
        const headers: Record<string, string> = {};
        for (const key of ["traceparent", "tracestate"]) {
          const value = metadata.get(key)[0];
          if (typeof value === "string") headers[key] = value;
        }
        span = tracer.startSpan(
          `${service}/${method}`,
          { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method } },
          extractTraceContext(headers),
        );
        metadata.set(CALL_TRACEPARENT_HEADER, traceparentOf(span));
      },
      onStatus(status) {
        // No span when the call ended before its metadata arrived.
        if (span === undefined) return;
        span.setAttribute("rpc.grpc.status_code", status.code);
        if (status.code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: grpc.status[status.code] ?? String(status.code) });
        span.end();
      },
    };
  });
}
