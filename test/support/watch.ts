import * as grpc from "@grpc/grpc-js";
import type { TokenServiceClient } from "../../src/generated/proto/types/sessionauthority/v1/TokenService.js";
import type { WatchRevocationsRequest } from "../../src/generated/proto/types/sessionauthority/v1/WatchRevocationsRequest.js";
import type { WatchRevocationsResponse__Output } from "../../src/generated/proto/types/sessionauthority/v1/WatchRevocationsResponse.js";
import { decodeErrorInfo } from "../../src/grpc/status.js";

export type WatchMessage = WatchRevocationsResponse__Output;

/**
 * A WatchRevocations stream as a test reads it: every message kept, and
 * `until` waits for a message (or the stream's end) matching a condition.
 */
export interface Watch {
  readonly messages: WatchMessage[];
  readonly events: NonNullable<WatchMessage["event"]>[];
  until(condition: (messages: WatchMessage[]) => boolean, timeoutMs?: number): Promise<WatchMessage[]>;
  /** Resolves with the status the stream ended with. */
  readonly ended: Promise<{ code: grpc.status; reason: string | undefined; details: string }>;
  cancel(): void;
}

export function watch(tokens: TokenServiceClient, request: WatchRevocationsRequest, metadata = new grpc.Metadata()): Watch {
  const call = tokens.WatchRevocations(request, metadata);
  const messages: WatchMessage[] = [];
  let wake: () => void = () => undefined;
  call.on("data", (message: WatchMessage) => {
    messages.push(message);
    wake();
  });
  const ended = new Promise<{ code: grpc.status; reason: string | undefined; details: string }>((resolve) => {
    call.on("error", (error: grpc.ServiceError) => resolve({ code: error.code, reason: decodeErrorInfo(error.metadata)?.reason, details: error.details }));
    call.on("status", (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) resolve({ code: status.code, reason: undefined, details: status.details });
    });
  });
  let done = false;
  void ended.then(() => {
    done = true;
    wake();
  });
  return {
    messages,
    get events() {
      return messages.flatMap((message) => (message.event ? [message.event] : []));
    },
    async until(condition, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!condition(messages)) {
        if (done) throw new Error(`stream ended before the condition held; got ${JSON.stringify(messages)}`);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`timed out waiting on the stream; got ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(remaining, 200));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return messages;
    },
    ended,
    cancel: () => call.cancel(),
  };
}
