import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../logger.js";
import { callObserver } from "./call-observer.js";
import { VERIFIED_CALLER_HEADER } from "./caller-auth.js";

/**
 * One JSON line per call: request id, caller, method, code, duration. Never a
 * payload. The request id (the caller's `x-request-id`, or one made here) goes
 * back in the response headers and trailers (a failed call may send no
 * headers), so a caller can quote it.
 */
export function callLoggingInterceptor(logger: Logger): grpc.ServerInterceptor {
  return callObserver((method) => {
    const started = process.hrtime.bigint();
    let requestId = "";
    return {
      onMetadata(metadata) {
        const given = metadata.get("x-request-id")[0];
        requestId = typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : crypto.randomUUID();
      },
      onSendMetadata(metadata) {
        if (requestId !== "") metadata.set("x-request-id", requestId);
      },
      onStatus(status, received) {
        status.metadata?.set("x-request-id", requestId);
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        const caller = String(received?.get(VERIFIED_CALLER_HEADER)[0] ?? "");
        const fields = { requestId, caller, method, code: grpc.status[status.code], durationMs };
        if (status.code === grpc.status.INTERNAL || status.code === grpc.status.UNKNOWN) logger.error(fields, "call");
        else logger.info(fields, "call");
      },
    };
  });
}
